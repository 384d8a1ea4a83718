"""One NATS connection per user the gateway speaks for, and the server's permission verdicts.

The server answers a denied publish or subscription with an asynchronous `-ERR`, which nats-py
hands to the error callback (lower-cased). `Verdicts` turns it into an answer for whoever waits
on that subject, so a caller hears 403 at once instead of a timeout: the server decides, as in
the cloud; the gateway only listens.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.aio.client import Client

from devkit.gateway.tokens import TokenHolder
from service import names
from service.connection import ONE_PASS, open_connection
from service.credentials import inbox_prefix_of

log = logging.getLogger(__name__)

_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"')
_Result = TypeVar("_Result")
Matcher = Callable[[str], bool]


class PermissionDenied(Exception):
    def __init__(self, kind: str, subject: str) -> None:
        super().__init__(f"permission denied: {kind} to {subject}")
        self.kind = kind
        self.subject = subject


@dataclass
class Verdicts:
    _waiting: list[tuple[str, Matcher, asyncio.Future[None]]] = field(default_factory=list)
    _finishing: set[asyncio.Future[Any]] = field(default_factory=set)

    async def on_error(self, error: Exception) -> None:
        found = _VIOLATION.search(str(error))
        if found is None:
            log.warning("gateway.nats_error", extra={"error": str(error)})
            return
        kind, subject = found.groups()
        for wanted, matches, future in self._waiting:
            if wanted == kind and matches(subject) and not future.done():
                future.set_exception(PermissionDenied(kind, subject))

    async def checked(
        self,
        work: Awaitable[_Result],
        *,
        kind: str,
        matches: Matcher,
        undo: Callable[[_Result], Awaitable[object]] | None = None,
    ) -> _Result:
        """`work`, unless the server denies a `kind` ("publish" or "subscription") that
        `matches` while it runs; the denial wins over a timeout that would follow.

        The work is never cancelled: a cancelled flush stays in nats-py's queue of PONG
        waiters, so its PONG would answer the next flush early, before that flush's -ERR.
        It finishes in the background instead, and `undo` releases what it made.
        """
        denial: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (kind, matches, denial)
        self._waiting.append(entry)
        task: asyncio.Future[_Result] = asyncio.ensure_future(work)
        try:
            racers: list[asyncio.Future[Any]] = [task, denial]
            await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
            if denial.done():
                denial.result()  # raises PermissionDenied
            return task.result()
        finally:
            self._waiting.remove(entry)
            if denial.done() or not task.done():
                self._finish_in_background(task, undo)

    def _finish_in_background(
        self, task: asyncio.Future[_Result], undo: Callable[[_Result], Awaitable[object]] | None
    ) -> None:
        self._finishing.add(task)

        def settle(finished: asyncio.Future[_Result]) -> None:
            self._finishing.discard(finished)
            if finished.cancelled() or finished.exception() is not None or undo is None:
                return
            undoing = asyncio.ensure_future(undo(finished.result()))
            self._finishing.add(undoing)
            undoing.add_done_callback(self._finishing.discard)

        task.add_done_callback(settle)


def same_subject(subject: str) -> Matcher:
    lowered = subject.lower()
    return lambda denied: denied == lowered


@dataclass
class UserConnection:
    nc: Client
    verdicts: Verdicts


class UserConnections:
    """Connects a user on first use and keeps the connection (reconnecting) for later calls."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._open: dict[TokenHolder, UserConnection] = {}
        self._lock = asyncio.Lock()

    async def get(self, user: TokenHolder) -> UserConnection:
        found = self._open.get(user)
        if found is not None:
            return found
        async with self._lock:
            if user not in self._open:
                verdicts = Verdicts()
                nc = await open_connection(
                    servers=[self._url],
                    **ONE_PASS,  # a caller waits: fail in seconds, not after 61 tries
                    name=f"http-gateway-{user.user}",
                    user_credentials=str(user.creds),
                    inbox_prefix=inbox_prefix_of(user.creds) or names.INBOX_PREFIX,
                    error_cb=verdicts.on_error,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                )
                nc.options["allow_reconnect"] = True
                nc.options["max_reconnect_attempts"] = -1
                self._open[user] = UserConnection(nc, verdicts)
            return self._open[user]

    async def close(self) -> None:
        for connection in self._open.values():
            await connection.nc.close()
        self._open.clear()
