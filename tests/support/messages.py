"""Request bodies of any shape (the tests send what no client of ours would), and bounded fan-out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import TypeVar

_Result = TypeVar("_Result")


def request_payload(client_id: object) -> bytes:
    return json.dumps({"client_id": client_id}).encode()


async def gather_limited(coroutines: list[Awaitable[_Result]], limit: int) -> list[_Result]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Awaitable[_Result]) -> _Result:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))
