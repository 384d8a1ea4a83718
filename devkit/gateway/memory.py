"""Giving the memory of large bodies back to the system once the gateway is quiet.

glibc keeps freed heap for reuse, so after many large bodies the gateway's RSS stayed high with
nothing live in it (docs/decisions.md, "The HTTP gateway twin under faults"). A few seconds
after a large body the gateway calls `malloc_trim(0)`, so its RSS says what it really uses.
Elsewhere than glibc, nothing."""

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
    def __init__(
        self,
        trim: Callable[[], object] | None = None,
        after_s: float = TRIM_AFTER_S,
    ) -> None:
        """`trim`: glibc's malloc_trim unless given; none at all elsewhere than glibc."""
        self._trim = trim or _malloc_trim()
        self._after_s = after_s
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
        """Trim once `after_s` have passed since a large body, however many came."""
        if self._trim is None:
            return
        while True:
            await self._large_body_seen.wait()
            await asyncio.sleep(self._after_s)
            self._large_body_seen.clear()
            self._trim()

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: trims while the app serves."""
        task = asyncio.ensure_future(self.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
