"""The server's permission verdicts, matched to the calls waiting for them.

The server answers a denied publish or subscription with an asynchronous `-ERR`, which nats-py
hands to the error callback lower-cased. `Verdicts` turns it into an answer for whoever waits
on that subject, so a caller hears 403 at once instead of a timeout: the server decides, as in
the cloud; the gateway only listens. NATS subjects are case-sensitive, so a lower-cased denial
only says which calls it could be meant for; among those, the user's JWT says which one it is
(`customer.balance` allowed, `CUSTOMER.BALANCE` not), and when it cannot tell, every one that
could be meant is refused: a verdict the gateway cannot be sure of is never "allowed".
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from devkit.gateway.permissions import UserPermissions

log = logging.getLogger(__name__)

_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"')
_Result = TypeVar("_Result")
Claim = Callable[[str], bool]
"""Could a denial of this lower-cased subject be meant for the waiting call?"""


class PermissionDenied(Exception):
    def __init__(self, kind: str, subject: str) -> None:
        super().__init__(f"permission denied: {kind} to {subject}")
        self.kind = kind
        self.subject = subject


class NotConfirmedError(Exception):
    """The server did not confirm within the deadline: neither allowed nor denied (a 504)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"NATS did not confirm within {seconds:g} s")
        self.seconds = seconds


@dataclass(eq=False)
class _Waiting:
    """One call waiting for its work or a verdict; compared and hashed by identity, so the
    book of waiting calls finds it in O(1) however many are in flight."""

    kind: str
    subject: str | None
    """The exact subject, when the call has one (a KV call touches several)."""
    claims: Claim
    verdict: asyncio.Future[None]
    """Done when the call may go on: a result once its work is done or its deadline passed,
    PermissionDenied when the server denied it."""

    @property
    def denied(self) -> bool:
        v = self.verdict
        return v.done() and not v.cancelled() and v.exception() is not None


def same_subject(subject: str) -> Claim:
    lowered = subject.lower()
    return lambda denied: denied == lowered


@dataclass
class Verdicts:
    permissions: UserPermissions = field(default_factory=UserPermissions)
    _waiting: dict[_Waiting, None] = field(default_factory=dict)
    """The calls in flight, oldest first (a dict: insertion order, removal in O(1))."""
    _finishing: set[asyncio.Future[Any]] = field(default_factory=set)

    async def on_error(self, error: Exception) -> None:
        found = _VIOLATION.search(str(error))
        if found is None:
            log.warning("gateway.nats_error %s", error)
            return
        kind, denied = found.groups()
        candidates = [
            w
            for w in self._waiting
            if w.kind == kind and w.claims(denied.lower()) and not w.verdict.done()
        ]
        for waiting in self._meant(kind, candidates):
            waiting.verdict.set_exception(PermissionDenied(kind, waiting.subject or denied))

    def _meant(self, kind: str, candidates: list[_Waiting]) -> list[_Waiting]:
        """The server sends one `-ERR` per denied call, in the order it read them: the oldest
        waiting call the JWT denies is the one meant. When the JWT denies none of them, it
        cannot tell, and every one that could be meant is refused."""
        may = self.permissions.may_publish if kind == "publish" else self.permissions.may_subscribe
        denied = [w for w in candidates if w.subject is not None and not may(w.subject)]
        return denied[:1] or candidates

    async def checked(
        self,
        work: Awaitable[_Result],
        *,
        kind: str,
        subject: str | None,
        claims: Claim | None = None,
        deadline_s: float | None = None,
        undo: Callable[[_Result], Awaitable[object]] | None = None,
    ) -> _Result:
        """`work`, unless the server denies a `kind` ("publish" or "subscription") of `subject`
        (or one `claims` owns) while it runs; the denial wins over a timeout that would follow.
        Past `deadline_s` without either, NotConfirmedError: no verdict is no permission.

        The work is never cancelled: a cancelled flush stays in nats-py's queue of PONG
        waiters, and the PONG that comes for it later kills nats-py's read loop. It finishes in
        the background instead, and `undo` releases what it made.
        """
        assert subject is not None or claims is not None
        loop = asyncio.get_running_loop()
        verdict: asyncio.Future[None] = loop.create_future()
        entry = _Waiting(kind, subject, claims or same_subject(subject or ""), verdict)
        self._waiting[entry] = None
        task: asyncio.Future[_Result] = asyncio.ensure_future(work)

        def go_on(_: object) -> None:
            if not verdict.done():
                verdict.set_result(None)

        # One future that the work, the deadline or a denial settles, whichever comes first:
        # what asyncio.wait would do, without its waiter, sets and callback removal per call.
        task.add_done_callback(go_on)
        deadline = loop.call_later(deadline_s, go_on, None) if deadline_s is not None else None
        try:
            await verdict  # raises PermissionDenied
            if not task.done():
                raise NotConfirmedError(deadline_s or 0)
            return task.result()
        finally:
            del self._waiting[entry]
            if deadline is not None:
                deadline.cancel()
            if entry.denied or not task.done():
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
