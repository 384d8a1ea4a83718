"""Giving the memory of large bodies back to the system once the gateway is quiet.

glibc keeps freed heap for reuse: after 1,000 hostile requests (a fifth of them with a body of
about 1 MiB) the gateway held 8 to 11 MB more than before, none of it live (tracemalloc saw
1 MB, pytest's own), and `malloc_trim(0)` returned all of it. So a few seconds after a large
body the gateway trims, and its RSS says what it really uses. Elsewhere than glibc, nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiohttp import web

LARGE_BODY: Final = 64 * 1024
TRIM_AFTER_S: Final = 2.0


def _malloc_trim() -> Callable[[], object] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


class HeapTrimmer:
    def __init__(self) -> None:
        self._trim = _malloc_trim()
        self._large_body_seen = asyncio.Event()

    @web.middleware
    async def notice(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            if (request.content_length or 0) > LARGE_BODY:
                self._large_body_seen.set()

    async def run(self) -> None:
        """Trim once TRIM_AFTER_S have passed since a large body, however many came."""
        if self._trim is None:
            return
        while True:
            await self._large_body_seen.wait()
            await asyncio.sleep(TRIM_AFTER_S)
            self._large_body_seen.clear()
            self._trim()

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: trims while the app serves."""
        task = asyncio.ensure_future(self.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
