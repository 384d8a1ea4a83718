"""The event loop: uvloop where it is installed (measured faster here), asyncio otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, prefer_uvloop: bool = True) -> T:
    if prefer_uvloop:
        try:
            import uvloop
        except ImportError:  # Windows, or a build without it
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
