"""The read coalescer when calls fail or callers leave: unprocessed keys, a failed batch or
item, a lookup that gives up, and closing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.coalescer import BalanceCoalescer
from service.faults import InternalError, UnavailableError
from tests.support.batch_store import (
    BALANCES,
    STRANDED_S,
    Store,
    item,
    loop_turns,
)


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
