"""Which request runs next: at most `slots` at once, the rest wait in arrival order, and one
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
    def __init__(self, *, slots: int, queue_limit: int) -> None:
        self.slots = slots
        self.queue_limit = queue_limit
        self.running = 0
        self._queue: deque[Waiting[_Item]] = deque()

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
        if self.running < self.slots:
            self.running += 1
            return Verdict.START
        if len(self._queue) < self.queue_limit:
            self._queue.append(Waiting(item, deadline, margin))
            return Verdict.QUEUED
        return Verdict.FULL

    def finished(self, *, now: float) -> tuple[list[_Item], _Item | None]:
        """A running request ended: the queued ones that expired meanwhile, and the next to start."""
        self.running -= 1
        expired = []
        while self._queue:
            waiting = self._queue.popleft()
            if waiting.deadline - now < waiting.margin:
                expired.append(waiting.item)
                continue
            self.running += 1
            return expired, waiting.item
        return expired, None

    def drop_queued(self) -> list[_Item]:
        """Everything still waiting, removed (the service is stopping)."""
        dropped = [waiting.item for waiting in self._queue]
        self._queue.clear()
        return dropped
