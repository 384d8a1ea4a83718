"""The `balance` endpoint: request -> lookup -> event -> reply."""

from __future__ import annotations

import asyncio
from typing import Protocol

from service.faults import NotFoundError, UnavailableError
from service.protocol import decode_request, encode_balance


class BalanceReader(Protocol):
    async def get_balance(self, client_id: str) -> int | None: ...


class BalanceRecorder(Protocol):
    async def record_balance(self, client_id: str, balance: int) -> None: ...


class BalanceHandler:
    """Answers one request within `timeout_s`, so callers waiting 5 s always get a reply."""

    def __init__(self, store: BalanceReader, events: BalanceRecorder, *, timeout_s: float) -> None:
        self._store = store
        self._events = events
        self._timeout_s = timeout_s

    async def __call__(self, data: bytes) -> bytes:
        request = decode_request(data)
        try:
            async with asyncio.timeout(self._timeout_s):
                balance = await self._store.get_balance(request.client_id)
                if balance is None:
                    raise NotFoundError(f"no customer with client_id {request.client_id}")
                await self._events.record_balance(request.client_id, balance)
        except TimeoutError:
            raise UnavailableError(
                f"the balance could not be read and recorded within {self._timeout_s:g} s"
            ) from None
        return encode_balance(balance)
