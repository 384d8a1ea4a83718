"""Serving the control-plane twin until SIGTERM or SIGINT, on the port asked or, for port 0, on
one the system chose, written to a port file for its launcher to read back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from aiohttp import web

from devkit.port_file import write_port


async def serve(app: web.Application, host: str, port: int, port_file: Path | None) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        taken: int = runner.addresses[0][1]
        if port_file is not None:
            write_port(port_file, taken)
        print(f"======== Running on http://{host}:{taken} ========", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
