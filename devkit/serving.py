"""Serving an aiohttp app as a process of the stack (both twins): until SIGTERM or SIGINT, on
the port asked or, for port 0, on one the system chose, written to a port file for the launcher
to read back (`devkit.port_file`), and printed as aiohttp's own `run_app` prints it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from aiohttp import web

from devkit.port_file import write_port


async def serve_until_stopped(
    runner: web.AppRunner, host: str, port: int, port_file: Path | None
) -> None:
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
