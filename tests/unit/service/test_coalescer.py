"""When the read coalescer sends a batch: lookups that share one, full and partial batches,
batch slots, and the patience a partial batch has for the one in flight."""

from __future__ import annotations

import asyncio

import pytest

from service.coalescer import PARTIAL_PATIENCE_S, BalanceCoalescer
from service.faults import UnavailableError
from tests.support.batch_store import BALANCES, STRANDED_S, Store, answered, loop_turns


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
