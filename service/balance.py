"""The `balance` endpoint: request -> lookup -> event -> reply."""

from __future__ import annotations

import asyncio
from typing import Protocol

from service.faults import NotFoundError, UnavailableError
from service.protocol import decode_request, encode_balance

OUT_OF_TIME = "the balance could not be read and recorded in time; try again"


class BalanceReader(Protocol):
    async def get_balance(self, client_id: str) -> int | None: ...


class BalanceRecorder(Protocol):
    async def record_balance(self, client_id: str, balance: int) -> None: ...


class BalanceHandler:
    """Answers one request before its deadline, so callers always get a reply they wait for."""

    def __init__(self, store: BalanceReader, events: BalanceRecorder) -> None:
        self._store = store
        self._events = events

    async def __call__(self, data: bytes, deadline: float) -> bytes:
        """`deadline` is the event loop's time by which the reply must be sent."""
        request = decode_request(data)
        try:
            async with asyncio.timeout_at(deadline):
                balance = await self._store.get_balance(request.client_id)
                if balance is None:
                    raise NotFoundError(f"no customer with client_id {request.client_id}")
                await self._events.record_balance(request.client_id, balance)
        except TimeoutError:
            raise UnavailableError(OUT_OF_TIME) from None
        return encode_balance(balance)
