"""`python -m devkit.gateway`: the local HTTP gateway, as `invoke up` starts it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aiohttp import web

from devkit.auth.security import creds_path, gateway_tokens_path
from devkit.gateway.app import create_app
from devkit.gateway.connections import UserConnections
from service import names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.gateway", description=__doc__)
    parser.add_argument("--stack-dir", type=Path, required=True, help="the stack's directory")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--port", type=int, default=names.GATEWAY_PORT)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(message)s")
    tokens_file = gateway_tokens_path(arguments.stack_dir)
    try:
        users: dict[str, str] = json.loads(tokens_file.read_text())
    except (OSError, ValueError) as error:
        print(f"error: cannot read the gateway tokens in {tokens_file}: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    connections = UserConnections(
        arguments.nats_url, {user: creds_path(arguments.stack_dir, user) for user in users}
    )
    app = create_app(connections, {token: user for user, token in users.items()})
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
