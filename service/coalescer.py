"""Coalesce concurrent balance reads into BatchGetItem calls (the DataLoader pattern).

One GetItem per request caps a replica at the emulator's (or DynamoDB's) per-call rate and costs
a full HTTP round trip of client CPU each; one BatchGetItem answers up to 100 requests. Lookups
that arrive together join one batch; a batch leaves as soon as it is full, or when the event
loop has run everything that was ready (no timer, so an idle service adds no latency), and
while every batch slot is busy the next batch keeps filling. The handler does not know: it calls
`get_balance` as before.

At most one partial batch is in flight at a time (Nagle's rule, applied to BatchGetItem): full
batches take any free slot, a partial one waits for the partial batch before it. Under load the
waiting batch fills instead of leaving as many small calls, each paying a whole call's overhead
(the measured effect is in docs/benchmarks.md); a lone lookup still leaves at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue

from service.faults import ServiceFault, UnavailableError
from service.store import Item, parse_balance


class BatchStore(Protocol):
    async def get_balance(self, client_id: str) -> int | None: ...

    async def batch_get_items(
        self, client_ids: list[str]
    ) -> tuple[Mapping[str, Item], list[str]]: ...


@dataclass
class BatchMetrics:
    batches: int = 0
    keys: int = 0
    joined: int = 0
    """Lookups that found their key already waiting in the batch and shared its answer."""
    unprocessed_retries: int = 0
    failed_batches: int = 0

    def document(self) -> dict[str, JsonValue]:
        return {
            "batches": self.batches,
            "keys": self.keys,
            "mean_batch_size": round(self.keys / self.batches, 2) if self.batches else 0.0,
            "joined_lookups": self.joined,
            "unprocessed_retries": self.unprocessed_retries,
            "failed_batches": self.failed_batches,
        }


class BalanceCoalescer:
    """`get_balance` with the store's semantics (None for no such customer), batched."""

    def __init__(
        self,
        store: BatchStore,
        *,
        batch_max: int = 100,
        batches_in_flight: int = 8,
        unprocessed_budget_s: float = 2.0,
    ) -> None:
        if not 1 <= batch_max <= 100:
            raise ValueError("batch_max must be 1..100 (DynamoDB's BatchGetItem limit)")
        self._store = store
        self._batch_max = batch_max
        self._slots = batches_in_flight
        self._in_flight = 0
        self._partial_in_flight = False
        self._budget_s = unprocessed_budget_s
        self._pending: dict[str, list[asyncio.Future[int | None]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._direct_slots = asyncio.Semaphore(batches_in_flight)
        self.metrics = BatchMetrics()

    async def get_balance(self, client_id: str) -> int | None:
        if self._batch_max == 1:
            return await self._get_one(client_id)
        # Each lookup waits on a future of its own: one that gives up cancels only itself.
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        waiters = self._pending.get(client_id)
        if waiters is None:
            self._pending[client_id] = [future]
            if len(self._pending) >= self._batch_max:
                self._dispatch()
            else:
                self._schedule()
        else:
            waiters.append(future)
            self.metrics.joined += 1
        return await future

    async def _get_one(self, client_id: str) -> int | None:
        """Coalescing off: one GetItem per lookup, with the same bound on calls in flight."""
        async with self._direct_slots:
            self.metrics.batches += 1
            self.metrics.keys += 1
            return await self._store.get_balance(client_id)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._pending and self._in_flight < self._slots:
            partial = len(self._pending) < self._batch_max
            if partial and self._partial_in_flight:
                return
            keys = list(self._pending)[: self._batch_max]
            batch = {key: self._pending.pop(key) for key in keys}
            self._in_flight += 1
            self._partial_in_flight |= partial
            task = asyncio.create_task(self._run(batch, partial=partial))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(
        self, batch: dict[str, list[asyncio.Future[int | None]]], *, partial: bool
    ) -> None:
        self.metrics.batches += 1
        self.metrics.keys += len(batch)
        try:
            items = await self._fetch(list(batch))
            for key, waiters in batch.items():
                item = items.get(key)
                try:
                    balance = None if item is None else parse_balance(item)
                except ServiceFault as fault:  # one bad item fails only its own request
                    _settle(waiters, failure=fault)
                else:
                    _settle(waiters, balance=balance)
        except Exception as error:
            self.metrics.failed_batches += 1
            for waiters in batch.values():
                _settle(waiters, failure=error)
        finally:
            self._in_flight -= 1
            if partial:
                self._partial_in_flight = False
            if self._pending:
                self._dispatch()

    async def _fetch(self, keys: list[str]) -> dict[str, Item]:
        """BatchGetItem, resending UnprocessedKeys with backoff inside the budget."""
        found: dict[str, Item] = {}
        remaining = keys
        deadline = time.monotonic() + self._budget_s
        delay = 0.02
        while True:
            items, unprocessed = await self._store.batch_get_items(remaining)
            found.update(items)
            if not unprocessed:
                return found
            if time.monotonic() + delay > deadline:
                raise UnavailableError("DynamoDB kept keys unprocessed; try again")
            self.metrics.unprocessed_retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            remaining = unprocessed


def _settle(
    waiters: list[asyncio.Future[int | None]],
    *,
    balance: int | None = None,
    failure: BaseException | None = None,
) -> None:
    for future in waiters:
        if future.done():  # its lookup gave up
            continue
        if failure is None:
            future.set_result(balance)
        else:
            future.set_exception(failure)
