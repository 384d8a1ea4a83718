"""The balance handler's decisions, with store and event doubles."""

from __future__ import annotations

import asyncio

import pytest

from service.balance import BalanceHandler
from service.faults import BadRequestError, NotFoundError, UnavailableError


def soon(seconds: float = 1.0) -> float:
    """A deadline `seconds` from now on the running loop's clock."""
    return asyncio.get_running_loop().time() + seconds


class Store:
    def __init__(self, balances: dict[str, int], delay_s: float = 0) -> None:
        self.balances = balances
        self.delay_s = delay_s

    async def get_balance(self, client_id: str) -> int | None:
        await asyncio.sleep(self.delay_s)
        return self.balances.get(client_id)


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, int]] = []

    async def record_balance(self, client_id: str, balance: int) -> None:
        self.recorded.append((client_id, balance))


async def test_answers_and_records_the_balance() -> None:
    events = Events()
    handler = BalanceHandler(Store({"678": 7120}), events)
    assert await handler(b'{"client_id":"678"}', soon()) == b'{"balance":7120}'
    assert events.recorded == [("678", 7120)]


async def test_a_zero_balance_is_a_balance_not_a_miss() -> None:
    handler = BalanceHandler(Store({"1": 0}), Events())
    assert await handler(b'{"client_id":"1"}', soon()) == b'{"balance":0}'


async def test_unknown_customer_is_404_and_not_recorded() -> None:
    events = Events()
    with pytest.raises(NotFoundError):
        await BalanceHandler(Store({}), events)(b'{"client_id":"9"}', soon())
    assert events.recorded == []


async def test_bad_request_never_reaches_the_store() -> None:
    with pytest.raises(BadRequestError):
        await BalanceHandler(Store({}, delay_s=10), Events())(b"nope", soon())


async def test_a_slow_store_becomes_503_within_the_budget() -> None:
    handler = BalanceHandler(Store({"1": 5}, delay_s=5), Events())
    with pytest.raises(UnavailableError, match="in time"):
        await asyncio.wait_for(handler(b'{"client_id":"1"}', soon(0.05)), timeout=1)


async def test_a_deadline_already_past_reads_nothing() -> None:
    store = Store({"1": 5})
    events = Events()
    with pytest.raises(UnavailableError, match="in time"):
        await BalanceHandler(store, events)(b'{"client_id":"1"}', soon(-1))
    assert events.recorded == []
