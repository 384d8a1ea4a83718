"""A BatchGetItem double for the read coalescer's unit tests, and the waits that go with it.

A test decides when a call is in flight: the double holds calls at a gate the test opens, and
tells when a call has reached it. No test guesses with a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from service.faults import UnavailableError


def item(client_id: str, balance: str) -> dict[str, Any]:
    return {"id": {"S": client_id}, "client_balance": {"N": balance}}


class Store:
    def __init__(self, balances: Mapping[str, str]) -> None:
        self.balances = dict(balances)
        self.batches: list[list[str]] = []
        self.single: list[str] = []
        self.unprocessed_once: set[str] = set()
        self.fail_when: str | None = None
        self.gate: asyncio.Event | None = None
        self.arrived = asyncio.Event()

    def hold(self) -> asyncio.Event:
        """Calls that arrive from now on stay in flight until the returned gate is set."""
        self.gate = asyncio.Event()
        return self.gate

    def pass_new_calls(self) -> None:
        """Calls that arrive from now on answer at once; held ones stay held."""
        self.gate = None

    async def reached(self, calls: int) -> None:
        """Until `calls` BatchGetItem calls have reached the store (in flight, if held)."""
        while len(self.batches) < calls:
            self.arrived.clear()
            await self.arrived.wait()

    async def get_balance(self, client_id: str) -> int | None:
        self.single.append(client_id)
        value = self.balances.get(client_id)
        return None if value is None else int(value)

    async def batch_get_items(
        self, client_ids: list[str]
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        self.batches.append(list(client_ids))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_when in client_ids:
            raise UnavailableError("DynamoDB is throttling or failing; try again")
        held = [k for k in client_ids if k in self.unprocessed_once]
        self.unprocessed_once -= set(held)
        found = {
            k: item(k, self.balances[k]) for k in client_ids if k in self.balances and k not in held
        }
        return found, held


BALANCES = {str(i): str(100 + i) for i in range(1, 1001)}


STRANDED_S = 10.0
"""A deadline, not a measure: a lookup the coalescer strands fails the test instead of hanging it."""


async def answered(*lookups: asyncio.Task[int | None]) -> list[int | None]:
    return await asyncio.wait_for(asyncio.gather(*lookups), STRANDED_S)


async def loop_turns(turns: int = 5) -> None:
    """Let the loop run what is ready, `turns` times over (no clock involved): lookups just made
    join their batch, the coalescer's dispatch (a call_soon) decides, and a batch it sent
    reaches the store. What has not happened then is not about to."""
    for _ in range(turns):
        await asyncio.sleep(0)
