"""The read coalescer's decisions, with a store double that records its calls.

A test decides when a BatchGetItem is in flight: the double holds calls at a gate the test
opens, and tells when a call has reached it. No test guesses with a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from service.coalescer import PARTIAL_PATIENCE_S, BalanceCoalescer
from service.faults import InternalError, UnavailableError


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


async def test_concurrent_lookups_share_one_batch() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store)
    results = await asyncio.gather(*(coalescer.get_balance(str(i)) for i in range(1, 51)))
    assert results == [100 + i for i in range(1, 51)]
    assert [len(b) for b in store.batches] == [50]


async def test_duplicates_are_asked_once() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store)
    results = await asyncio.gather(*(coalescer.get_balance(k) for k in ["7", "7", "8", "7"]))
    assert results == [107, 107, 108, 107]
    assert store.batches == [["7", "8"]]
    assert coalescer.metrics.joined == 2


async def test_a_lone_lookup_leaves_at_once() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store)
    assert await asyncio.wait_for(coalescer.get_balance("3"), timeout=0.5) == 103
    assert store.batches == [["3"]]


async def test_full_batches_leave_without_waiting_for_the_rest() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batch_max=100)
    await asyncio.gather(*(coalescer.get_balance(str(i)) for i in range(1, 251)))
    assert [len(b) for b in store.batches] == [100, 100, 50]


async def test_while_every_slot_is_busy_the_next_batch_keeps_filling() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=1)
    gate = store.hold()
    first = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)  # batch ["1"] is in flight now, in the only slot
    later = []
    for i in range(2, 42):  # one at a time, each with the loop's full turn to send it
        later.append(asyncio.create_task(coalescer.get_balance(str(i))))
        await loop_turns()
    assert store.batches == [["1"]]
    gate.set()
    await answered(first, *later)
    assert [len(b) for b in store.batches] == [1, 40]


async def test_a_full_batch_waits_for_a_free_slot_too() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=1, batch_max=10)
    gate = store.hold()
    first = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)  # batch ["1"] is in flight, in the only slot
    full = [asyncio.create_task(coalescer.get_balance(str(i))) for i in range(2, 12)]
    await loop_turns()
    assert store.batches == [["1"]]
    gate.set()
    await answered(first, *full)
    assert [len(b) for b in store.batches] == [1, 10]


async def test_a_partial_batch_waits_for_the_partial_batch_in_flight() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=8)
    gate = store.hold()
    first = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)  # batch ["1"] is in flight, seven slots are free
    later = [asyncio.create_task(coalescer.get_balance(str(i))) for i in range(2, 42)]
    await loop_turns()
    assert [len(b) for b in store.batches] == [1]
    gate.set()
    await answered(first, *later)
    assert [len(b) for b in store.batches] == [1, 40]


async def test_a_partial_batch_waits_for_a_stuck_one_only_so_long() -> None:
    """DynamoDB was unreachable and a partial batch still waits for its read timeout: a lookup
    made after DynamoDB is back leaves after PARTIAL_PATIENCE_S, not when that call gives up."""
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=8)
    store.hold()  # never opened: this call would wait for good
    stuck = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)
    store.pass_new_calls()  # DynamoDB is back
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await asyncio.wait_for(coalescer.get_balance("2"), 10) == 102
    assert loop.time() - began >= PARTIAL_PATIENCE_S - 0.02  # it waited, as long as patience
    assert [len(b) for b in store.batches] == [1, 1]
    assert not stuck.done()
    await asyncio.wait_for(coalescer.close(), STRANDED_S)
    with pytest.raises(UnavailableError):
        await stuck


async def test_full_batches_do_not_wait_for_a_partial_one() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=8, batch_max=100)
    gate = store.hold()
    first = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)
    later = [asyncio.create_task(coalescer.get_balance(str(i))) for i in range(2, 152)]
    await store.reached(2)  # the full batch left while the partial batch ["1"] is in flight
    await loop_turns()
    assert [len(b) for b in store.batches] == [1, 100]
    gate.set()
    results = await answered(first, *later)
    assert results == [100 + i for i in range(1, 152)]
    assert [len(b) for b in store.batches] == [1, 100, 50]


async def test_missing_customers_answer_none_each() -> None:
    coalescer = BalanceCoalescer(Store(BALANCES))
    found = await asyncio.gather(coalescer.get_balance("5"), coalescer.get_balance("nobody"))
    assert list(found) == [105, None]


async def test_unprocessed_keys_are_retried() -> None:
    store = Store(BALANCES)
    store.unprocessed_once = {"2", "3"}
    coalescer = BalanceCoalescer(store)
    assert await asyncio.gather(*(coalescer.get_balance(k) for k in "123")) == [101, 102, 103]
    assert store.batches == [["1", "2", "3"], ["2", "3"]]
    assert coalescer.metrics.unprocessed_retries == 1


async def test_keys_left_unprocessed_past_the_budget_are_503() -> None:
    class Stubborn(Store):
        async def batch_get_items(
            self, client_ids: list[str]
        ) -> tuple[dict[str, dict[str, Any]], list[str]]:
            return {}, list(client_ids)

    coalescer = BalanceCoalescer(Stubborn(BALANCES), unprocessed_budget_s=0.1)
    with pytest.raises(UnavailableError):
        await coalescer.get_balance("1")


async def test_a_failed_batch_fails_only_its_own_requests() -> None:
    store = Store(BALANCES)
    store.fail_when = "13"
    coalescer = BalanceCoalescer(store, batch_max=10)
    outcomes = await asyncio.gather(
        *(coalescer.get_balance(str(i)) for i in range(1, 21)), return_exceptions=True
    )
    assert all(isinstance(o, UnavailableError) for o in outcomes[10:])
    assert outcomes[:10] == [100 + i for i in range(1, 11)]
    assert coalescer.metrics.failed_batches == 1


async def test_a_corrupt_item_fails_only_its_own_request() -> None:
    store = Store({**BALANCES, "9": "9.5"})
    coalescer = BalanceCoalescer(store)
    outcomes = await asyncio.gather(
        coalescer.get_balance("8"), coalescer.get_balance("9"), return_exceptions=True
    )
    assert outcomes[0] == 108
    assert isinstance(outcomes[1], InternalError)


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store)
    gate = store.hold()
    impatient = asyncio.create_task(coalescer.get_balance("4"))
    patient = asyncio.create_task(coalescer.get_balance("4"))
    await store.reached(1)  # both wait for the batch in flight
    impatient.cancel()
    gate.set()
    assert await patient == 104
    assert impatient.cancelled()


async def test_batch_max_1_turns_coalescing_off() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batch_max=1)
    found = await asyncio.gather(coalescer.get_balance("1"), coalescer.get_balance("2"))
    assert list(found) == [101, 102]
    assert store.single == ["1", "2"]
    assert store.batches == []


def test_batches_larger_than_dynamodb_allows_are_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.100"):
        BalanceCoalescer(Store({}), batch_max=101)


class Throttled(Store):
    """DynamoDB keeps `held` unprocessed on every call (throttling those keys)."""

    held: frozenset[str] = frozenset({"7"})

    async def batch_get_items(
        self, client_ids: list[str]
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        self.batches.append(list(client_ids))
        found = {k: item(k, self.balances[k]) for k in client_ids if k not in self.held}
        return found, [k for k in client_ids if k in self.held]


async def test_one_unprocessed_key_fails_only_its_own_lookup_and_the_rest_answer_at_once() -> None:
    coalescer = BalanceCoalescer(Throttled(BALANCES), unprocessed_budget_s=2.0)
    lookups = [asyncio.create_task(coalescer.get_balance(str(i))) for i in range(1, 101)]
    others = [lookup for i, lookup in enumerate(lookups, start=1) if i != 7]
    answered = await asyncio.gather(*others)
    assert not lookups[6].done()  # still inside its 2 s budget while the rest have answered
    assert answered == [100 + i for i in range(1, 101) if i != 7]
    with pytest.raises(UnavailableError, match="unprocessed"):
        await lookups[6]
    assert coalescer.metrics.unprocessed_failed == 1
    assert coalescer.metrics.failed_batches == 0


async def test_lookups_that_gave_up_are_not_fetched() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=1)
    gate = store.hold()
    first = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)  # "1" is in flight and holds the only slot
    gave_up = [asyncio.create_task(coalescer.get_balance(str(i))) for i in range(2, 52)]
    await loop_turns()  # each has joined the next batch
    for lookup in gave_up:
        lookup.cancel()
    await asyncio.gather(*gave_up, return_exceptions=True)
    gate.set()
    assert await first == 101
    await loop_turns()  # the slot is free: a batch of what is left would reach the store now
    assert store.batches == [["1"]]


async def test_a_key_given_up_during_a_retry_is_not_sent_again() -> None:
    class FirstRoundTold(Store):
        def __init__(self) -> None:
            super().__init__(BALANCES)
            self.first_round = asyncio.Event()

        async def batch_get_items(
            self, client_ids: list[str]
        ) -> tuple[dict[str, dict[str, Any]], list[str]]:
            result = await super().batch_get_items(client_ids)
            self.first_round.set()
            return result

    store = FirstRoundTold()
    store.unprocessed_once = {"2", "3"}
    coalescer = BalanceCoalescer(store)
    gave_up = asyncio.create_task(coalescer.get_balance("2"))
    kept = asyncio.create_task(coalescer.get_balance("3"))
    await store.first_round.wait()  # 2 and 3 came back unprocessed; the retry is backing off
    gave_up.cancel()
    assert await kept == 103
    assert store.batches == [["2", "3"], ["3"]]


async def test_close_fails_every_waiting_lookup_and_sends_nothing_new() -> None:
    store = Store(BALANCES)
    coalescer = BalanceCoalescer(store, batches_in_flight=1)
    store.hold()  # never opened: close must not wait for the call in flight
    in_flight = asyncio.create_task(coalescer.get_balance("1"))
    await store.reached(1)
    queued = asyncio.create_task(coalescer.get_balance("2"))
    await loop_turns()  # "2" waits for the only slot
    await asyncio.wait_for(coalescer.close(), STRANDED_S)
    for lookup in (in_flight, queued):
        with pytest.raises(UnavailableError, match="stopping"):
            await lookup
    assert store.batches == [["1"]]
    with pytest.raises(UnavailableError, match="stopping"):
        await coalescer.get_balance("3")
