"""`python -m devkit.controlplane_twin`: the local control-plane API, as `invoke up` starts it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from aiohttp import web

from devkit import platform_names
from devkit.auth.jwt import identity_from_seed
from devkit.auth.security import controlplane_token_path
from devkit.controlplane_twin.app import create_app
from devkit.controlplane_twin.records import TwinPaths
from devkit.controlplane_twin.twin import ControlPlaneTwin
from devkit.serving import serve_until_stopped
from service import names
from service.logs import RedactingFormatter, output_handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.controlplane_twin", description=__doc__)
    parser.add_argument("--stack-dir", type=Path, required=True, help="the stack's directory")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--port", type=int, default=platform_names.CONTROLPLANE_PORT, help="0: any")
    parser.add_argument("--port-file", type=Path, help="where to write the port taken")
    arguments = parser.parse_args()
    # LOG_FILE (the native stack) bounds the log and is 0600; every line is redacted.
    logging.basicConfig(
        level=logging.INFO,
        handlers=[output_handler(RedactingFormatter("%(asctime)s %(message)s"))],
    )
    root: Path = arguments.stack_dir
    try:
        seeds = json.loads((root / "security" / "keys.json").read_text())
        token = controlplane_token_path(root).read_text().strip()
    except (OSError, ValueError, KeyError) as error:
        print(f"error: the stack's security material is unreadable: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    twin = ControlPlaneTwin(
        TwinPaths(root),
        arguments.nats_url,
        operator=identity_from_seed(seeds["operator"]),
        system=identity_from_seed(seeds["system"]),
    )
    app = create_app(twin, token)
    runner = web.AppRunner(app, access_log=None)
    asyncio.run(serve_until_stopped(runner, names.LOCAL_HOST, arguments.port, arguments.port_file))


if __name__ == "__main__":
    main()
