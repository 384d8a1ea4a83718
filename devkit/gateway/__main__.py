"""`python -m devkit.gateway`: the local HTTP gateway, as `invoke up` starts it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from devkit.gateway.app import create_app
from devkit.gateway.connections import UserConnections
from devkit.gateway.tokens import TokenBook
from service import names
from service.logs import RedactingFormatter, output_handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.gateway", description=__doc__)
    parser.add_argument("--stack-dir", type=Path, required=True, help="the stack's directory")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--port", type=int, default=names.GATEWAY_PORT)
    arguments = parser.parse_args()
    # LOG_FILE (the native stack) bounds the log and is 0600; every line is redacted.
    logging.basicConfig(
        level=logging.INFO,
        handlers=[output_handler(RedactingFormatter("%(asctime)s %(message)s"))],
    )
    try:
        tokens = TokenBook(arguments.stack_dir)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the gateway tokens: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(UserConnections(arguments.nats_url), tokens)
    web.run_app(
        app,
        host=names.LOCAL_HOST,
        port=arguments.port,
        access_log=None,
        handler_cancellation=True,  # a caller that leaves ends its stream (and subscription)
        print=lambda text: print(text, flush=True),
    )


if __name__ == "__main__":
    main()
