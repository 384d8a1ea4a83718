"""One lock per kind and name: a create checks that the name is free, then acts on the server,
and two creates of one name must not both pass the check (ten at once made two accounts)."""

from __future__ import annotations

import asyncio


class NameLocks:
    def __init__(self) -> None:
        self._locks: dict[tuple[str, ...], asyncio.Lock] = {}

    def of(self, *key: str) -> asyncio.Lock:
        """The lock for `key` (kind, scope, name); made on first use, kept (a few bytes each)."""
        return self._locks.setdefault(key, asyncio.Lock())
