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
(the measured effect is in docs/benchmarks.md); a lone lookup still leaves at once. The wait
has a limit, `PARTIAL_PATIENCE_S`: a partial batch out longer than that is retrying or stuck
(DynamoDB unreachable, a connection waiting for its read timeout), and lookups made after
DynamoDB came back must not wait for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue

from service.faults import ServiceFault, UnavailableError
from service.store import Item, parse_balance

STOPPING = "the service is stopping; try again"
UNPROCESSED = "DynamoDB kept keys unprocessed; try again"
PARTIAL_PATIENCE_S = 0.25
"""How long a partial batch waits for the partial batch in flight; a call takes milliseconds."""
Batch = dict[str, list[asyncio.Future[int | None]]]
"""A batch: each key and the lookups waiting for it."""


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
    unprocessed_failed: int = 0
    """Lookups failed because DynamoDB kept their key unprocessed past the budget."""
    failed_batches: int = 0

    def document(self) -> dict[str, JsonValue]:
        return {
            "batches": self.batches,
            "keys": self.keys,
            "mean_batch_size": round(self.keys / self.batches, 2) if self.batches else 0.0,
            "joined_lookups": self.joined,
            "unprocessed_retries": self.unprocessed_retries,
            "unprocessed_failed": self.unprocessed_failed,
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
        self._partials_in_flight = 0
        self._partial_sent_at = 0.0
        self._patience: asyncio.TimerHandle | None = None
        self._budget_s = unprocessed_budget_s
        self._pending: dict[str, list[asyncio.Future[int | None]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._direct_slots = asyncio.Semaphore(batches_in_flight)
        self._closed = False
        self.metrics = BatchMetrics()

    async def get_balance(self, client_id: str) -> int | None:
        if self._batch_max == 1:
            return await self._get_one(client_id)
        if self._closed:
            raise UnavailableError(STOPPING)
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
        try:
            return await future
        except asyncio.CancelledError:
            self._forget(client_id, future)
            raise

    def _forget(self, client_id: str, future: asyncio.Future[int | None]) -> None:
        """A lookup that gave up leaves the batch it waits for; a key nobody waits for any
        more is not fetched (a batch in flight drops it before its next round)."""
        waiters = self._pending.get(client_id)
        if waiters is not None and future in waiters:
            waiters.remove(future)
            if not waiters:
                del self._pending[client_id]

    async def _get_one(self, client_id: str) -> int | None:
        """Coalescing off: one GetItem per lookup, with the same bound on calls in flight."""
        if self._closed:
            raise UnavailableError(STOPPING)
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
        loop = asyncio.get_running_loop()
        while self._pending and self._in_flight < self._slots and not self._closed:
            partial = len(self._pending) < self._batch_max
            if partial and self._partials_in_flight:
                waited = loop.time() - self._partial_sent_at
                if waited < PARTIAL_PATIENCE_S:
                    self._wake_after(PARTIAL_PATIENCE_S - waited)
                    return
            keys = list(self._pending)[: self._batch_max]
            batch = {key: self._pending.pop(key) for key in keys}
            self._in_flight += 1
            if partial:
                self._partials_in_flight += 1
                self._partial_sent_at = loop.time()
            task = asyncio.create_task(self._run(batch, partial=partial))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: Batch, *, partial: bool) -> None:
        self.metrics.batches += 1
        self.metrics.keys += len(batch)
        try:
            await self._fetch(batch)
        except asyncio.CancelledError:
            _fail(batch.values(), UnavailableError(STOPPING))
            raise
        except Exception as error:
            self.metrics.failed_batches += 1
            _fail(batch.values(), error)
        finally:
            self._in_flight -= 1
            if partial:
                self._partials_in_flight -= 1
            if self._pending:
                self._dispatch()

    def _wake_after(self, delay_s: float) -> None:
        """Look again once the partial batch in flight has had its patience."""
        if self._patience is None:
            self._patience = asyncio.get_running_loop().call_later(delay_s, self._on_patience)

    def _on_patience(self) -> None:
        self._patience = None
        self._dispatch()

    async def _fetch(self, batch: Batch) -> None:
        """BatchGetItem; every round settles what it found, and UnprocessedKeys are sent again
        with backoff inside the budget. Only keys still unprocessed at the end fail."""
        remaining = list(batch)
        deadline = time.monotonic() + self._budget_s
        delay = 0.02
        while True:
            items, unprocessed = await self._store.batch_get_items(remaining)
            held = set(unprocessed)
            for key in remaining:
                if key not in held:
                    _answer(batch[key], items.get(key))
            if not unprocessed:
                return
            if time.monotonic() + delay > deadline:
                self.metrics.unprocessed_failed += len(unprocessed)
                _fail((batch[key] for key in unprocessed), UnavailableError(UNPROCESSED))
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
            remaining = [key for key in unprocessed if _waited_for(batch[key])]
            if not remaining:
                return
            self.metrics.unprocessed_retries += 1

    async def close(self) -> None:
        """Stop: lookups not sent yet fail at once, batches in flight are cancelled and their
        lookups fail, and nothing new leaves."""
        self._closed = True
        if self._patience is not None:
            self._patience.cancel()
        _fail(self._pending.values(), UnavailableError(STOPPING))
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _waited_for(waiters: list[asyncio.Future[int | None]]) -> bool:
    return any(not future.done() for future in waiters)


def _answer(waiters: list[asyncio.Future[int | None]], item: Item | None) -> None:
    try:
        balance = None if item is None else parse_balance(item)
    except ServiceFault as fault:  # one bad item fails only its own request
        _fail([waiters], fault)
        return
    for future in waiters:
        if not future.done():  # its lookup gave up
            future.set_result(balance)


def _fail(groups: Iterable[list[asyncio.Future[int | None]]], failure: BaseException) -> None:
    for waiters in groups:
        for future in waiters:
            if not future.done():
                future.set_exception(failure)
