"""The gateway gives the heap of large bodies back once quiet, and only after large bodies."""

from __future__ import annotations

import asyncio
import platform

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from devkit.gateway.memory import LARGE_BODY, HeapTrimmer


async def answer(_: web.Request) -> web.StreamResponse:
    return web.Response()


async def test_the_heap_is_trimmed_once_after_large_bodies_and_never_after_small_ones() -> None:
    trims: list[int] = []
    trimmer = HeapTrimmer(trim=lambda: trims.append(1), after_s=0.05)
    running = asyncio.ensure_future(trimmer.run())
    try:
        small = make_mocked_request("PUT", "/", headers={"Content-Length": "10"})
        await trimmer.notice(small, answer)
        await asyncio.sleep(0.15)
        assert trims == []
        large = make_mocked_request("PUT", "/", headers={"Content-Length": str(LARGE_BODY + 1)})
        for _ in range(3):
            await trimmer.notice(large, answer)
        await asyncio.sleep(0.15)
        assert trims == [1]
    finally:
        running.cancel()


def test_glibcs_trim_is_found_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert HeapTrimmer()._trim is not None
