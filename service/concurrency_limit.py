"""How many requests a replica runs at once: as many as finish within a latency target.

A fixed number is wrong both ways. With reads coalesced, a replica serves 1,000 requests at
once in a quarter of a second; with one GetItem each, or a DynamoDB that serves fewer calls
than are asked of it, 1,000 at once means each waits seconds for its read, reads are spent on
answers that come too late, and failures come after the whole budget (measured:
docs/benchmarks.md, "Overload"). So the limit follows what it causes. When even the fastest
answer of an interval took longer than the target, requests are queueing inside the replica:
the limit drops to what Little's law says fits (answers per second times the target), or in
proportion to the lateness if that is lower. While answers come within the target, it grows
back by a tenth per interval. The signal is CoDel's (the minimum over an interval, so one slow
request changes nothing), and each change waits for requests started after it, so the limit
never reacts twice to the same backlog.

The price: a dependency slower than the target on every call, with no queue at all, also
lowers the limit (to `FLOOR` at worst). Plain code with the clock passed in; `admission.py`
asks it, `micro.py` feeds it.
"""

from __future__ import annotations

import math

INTERVAL_S = 0.1
"""The shortest interval whose fastest request is taken as the signal."""
GROWTH = 1.1


class ConcurrencyLimit:
    def __init__(self, *, ceiling: int, floor: int, target_s: float) -> None:
        if ceiling < 1 or floor < 1 or target_s <= 0:
            raise ValueError("ceiling and floor must be at least 1, target_s above 0")
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.target_s = target_s
        self._value = float(ceiling)
        self._since = -math.inf
        """Requests started before the last change show the limit before it: not counted."""
        self._window_start: float | None = None
        self._finished = 0
        self._fastest = math.inf

    @property
    def value(self) -> int:
        return int(self._value)

    def observe(self, *, started: float, now: float) -> None:
        """A request that started at `started` was answered at `now`."""
        if self._window_start is None:
            self._window_start = now  # the interval opens: its rate counts what follows
        else:
            self._finished += 1
        if started >= self._since:
            self._fastest = min(self._fastest, now - started)
        elapsed = now - self._window_start
        if elapsed < INTERVAL_S or self._fastest == math.inf:
            return
        if self._fastest > self.target_s:
            fits = self._finished / elapsed * self.target_s
            proportional = self._value * self.target_s / self._fastest
            self._value = max(float(self.floor), min(fits, proportional))
        else:
            self._value = min(float(self.ceiling), self._value * GROWTH + 1)
        self._since = now
        self._window_start = now
        self._finished = 0
        self._fastest = math.inf


FLOOR = 32
"""Never fewer at once: enough to keep DynamoDB's calls in flight busy (8 by default)."""
TARGET_SHARE = 0.25
"""The latency target is a quarter of the request budget: a request that waited as long in the
queue and then ran as long still leaves half of its budget."""


def for_budget(ceiling: int, budget_s: float) -> ConcurrencyLimit:
    return ConcurrencyLimit(ceiling=ceiling, floor=FLOOR, target_s=budget_s * TARGET_SHARE)
