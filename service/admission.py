"""Which request runs next: at most the concurrency limit at once, the rest wait in arrival
order (their number shrinks with the limit, so a wait stays about as long as a run), and one
that can no longer be answered within its budget is refused at once, without any work.

Decided here, in plain code with the clock passed in; `micro.py` does the I/O. The wait
happens in this queue, never inside nats-py's delivery callback, so every request is
timestamped when it arrives and its budget counts from then.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from service.concurrency_limit import ConcurrencyLimit

_Item = TypeVar("_Item")

START_MARGIN_S = 0.25
"""A request with less of its budget left than this is not started: a DynamoDB read and a
stream acknowledgement would not fit, so the work would only delay the 503. A caller that allows
less than twice this in all has half of its allowance as the margin instead."""


def start_margin(allowed_s: float) -> float:
    return min(START_MARGIN_S, allowed_s / 2)


class Verdict(enum.Enum):
    START = "start"
    QUEUED = "queued"
    FULL = "full"
    """The queue is at its limit: refuse now rather than let callers wait for a timeout."""
    EXPIRED = "expired"
    """Too little of the budget is left to start."""


@dataclass(frozen=True)
class Waiting(Generic[_Item]):
    item: _Item
    deadline: float
    """Clock time by which the reply must be sent."""
    margin: float


class Admission(Generic[_Item]):
    def __init__(
        self, *, slots: int, queue_limit: int, limit: ConcurrencyLimit | None = None
    ) -> None:
        """`slots` is the most ever run at once; `limit`, when given, adapts below it."""
        self.slots = slots
        self.queue_limit = queue_limit
        self.limit = limit
        self.running = 0
        self._queue: deque[Waiting[_Item]] = deque()

    @property
    def allowed(self) -> int:
        """How many may run at once now."""
        return self.slots if self.limit is None else min(self.slots, self.limit.value)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def offer(
        self, item: _Item, *, deadline: float, now: float, allowed_s: float | None = None
    ) -> Verdict:
        """`allowed_s`: the request's whole allowance (default: plenty), of which `deadline -
        now` is left."""
        margin = START_MARGIN_S if allowed_s is None else start_margin(allowed_s)
        if deadline - now < margin or deadline <= now:
            return Verdict.EXPIRED
        allowed = self.allowed
        if self.running < allowed and not self._queue:  # nobody overtakes those waiting
            self.running += 1
            return Verdict.START
        # Those running beyond a lowered limit are ahead in the queue too: they must finish
        # before anyone queued can start.
        ahead = len(self._queue) + max(0, self.running - allowed)
        if ahead < self.queue_limit * allowed // self.slots:
            self._queue.append(Waiting(item, deadline, margin))
            return Verdict.QUEUED
        return Verdict.FULL

    def finished(
        self, *, now: float, started: float | None = None, answered: bool = True
    ) -> tuple[list[_Item], list[_Item]]:
        """A running request (started at `started`) ended: the queued ones that expired
        meanwhile, and those to start now (more than one when the limit has grown).

        Only answered requests (not 5xx) steer the limit: when DynamoDB is down, requests are
        slow because they fail, not because they queue, and shedding then would refuse the
        requests that come after it is back."""
        self.running -= 1
        if self.limit is not None and started is not None and answered:
            self.limit.observe(started=started, now=now)
        expired: list[_Item] = []
        starting: list[_Item] = []
        while self._queue:
            waiting = self._queue[0]
            if waiting.deadline - now < waiting.margin:  # refused even while none may start
                expired.append(self._queue.popleft().item)
            elif self.running < self.allowed:
                self.running += 1
                starting.append(self._queue.popleft().item)
            else:
                break
        return expired, starting

    def drop_queued(self) -> list[_Item]:
        """Everything still waiting, removed (the service is stopping)."""
        dropped = [waiting.item for waiting in self._queue]
        self._queue.clear()
        return dropped
