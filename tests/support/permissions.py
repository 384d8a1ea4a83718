"""Asking a NATS server what a user may do: try each thing, and see whether the server sent a
permissions violation for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from nats.aio.client import Client

from service.connection import flush_in_order
from tests.support.users import connect_user

Probe = Callable[[], Awaitable[object]]


class Watched:
    """A connection whose asynchronous errors (the server's -ERR lines) are kept."""

    def __init__(self, nc: Client, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    async def refused(self, probes: Mapping[str, Probe]) -> dict[str, bool]:
        """For each probe: did the server refuse it? (flush_in_order: the -ERR comes first)."""
        verdicts = {}
        for name, attempt in probes.items():
            before = len(self.errors)
            await attempt()
            await flush_in_order(self.nc, seconds=5)
            verdicts[name] = len(self.errors) > before
        return verdicts


async def watched(url: str, creds: str, *, raw: bool = False) -> Watched:
    """Connect with a creds file (or, with `raw`, the creds text itself)."""
    errors: list[str] = []

    async def remember(error: Exception) -> None:
        errors.append(str(error))

    nc = await connect_user(url, creds, raw=raw, error_cb=remember)
    return Watched(nc, errors)
