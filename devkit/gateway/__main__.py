"""`python -m devkit.gateway`: the local HTTP gateway, as `invoke up` starts it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from devkit import platform_names
from devkit.gateway.app import create_app
from devkit.gateway.connections import UserConnections
from devkit.gateway.logs import configure_logging
from devkit.gateway.server import serve
from devkit.gateway.tokens import TokenBook
from service import names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.gateway", description=__doc__)
    parser.add_argument("--stack-dir", type=Path, required=True, help="the stack's directory")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--port", type=int, default=platform_names.GATEWAY_PORT, help="0: any")
    parser.add_argument("--port-file", type=Path, help="where to write the port taken")
    arguments = parser.parse_args()
    configure_logging()
    try:
        tokens = TokenBook(arguments.stack_dir)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the gateway tokens: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(UserConnections(arguments.nats_url), tokens)
    asyncio.run(serve(app, names.LOCAL_HOST, arguments.port, arguments.port_file))


if __name__ == "__main__":
    main()
