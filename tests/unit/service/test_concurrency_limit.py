"""The concurrency limit follows the latency it causes, decided on a clock the test holds.

Times are multiples of 1/32 s so that the arithmetic is exact."""

from __future__ import annotations

import pytest

from service.concurrency_limit import FLOOR, TARGET_SHARE, ConcurrencyLimit, for_budget

TICK = 1 / 32


def finish(limit: ConcurrencyLimit, *, at: float, count: int, latency: float) -> float:
    """`count` requests finish one a tick from `at`, each after `latency`; returns the time after."""
    for n in range(count):
        now = at + n * TICK
        limit.observe(started=now - latency, now=now)
    return at + count * TICK


def test_one_slow_request_among_fast_ones_changes_nothing() -> None:
    limit = ConcurrencyLimit(ceiling=1000, floor=32, target_s=1.0)
    for latency in (0.05, 3.0, 0.08, 0.02, 0.05):
        finish(limit, at=10.0, count=1, latency=latency)
    assert limit.value == 1000


def test_a_standing_queue_cuts_the_limit_to_what_fits_in_the_target() -> None:
    """32 requests finish a second, each after 2 s: Little's law says 32 fit in 1 s."""
    limit = ConcurrencyLimit(ceiling=1000, floor=8, target_s=1.0)
    finish(limit, at=10.0, count=5, latency=2.0)  # the interval closes after 4 ticks
    assert limit.value == 32


def test_the_cut_is_in_proportion_to_the_lateness_when_that_is_lower() -> None:
    limit = ConcurrencyLimit(ceiling=100, floor=8, target_s=1.0)
    finish(limit, at=10.0, count=5, latency=4.0)  # 32 fit, but 100 * 1 / 4 is lower
    assert limit.value == 25


def test_never_below_the_floor() -> None:
    limit = ConcurrencyLimit(ceiling=100, floor=40, target_s=1.0)
    finish(limit, at=10.0, count=5, latency=100.0)
    assert limit.value == 40


def test_a_cut_waits_for_requests_started_after_it() -> None:
    """Requests already running when the limit was cut show the old limit's backlog."""
    limit = ConcurrencyLimit(ceiling=1000, floor=2, target_s=0.5)
    after = finish(limit, at=10.0, count=5, latency=2.0)
    assert limit.value == 16  # 32 a second, half a second
    after = finish(limit, at=after, count=20, latency=3.0)  # started before the cut: ignored
    assert limit.value == 16
    finish(limit, at=after, count=1, latency=0.625)  # started after it: counted
    assert limit.value == 12  # 16 * 0.5 / 0.625, below the 16 that still fit


def test_the_limit_grows_back_while_requests_are_fast_up_to_the_ceiling() -> None:
    limit = ConcurrencyLimit(ceiling=1000, floor=32, target_s=1.0)
    now = finish(limit, at=10.0, count=5, latency=5.0)
    assert limit.value == 32  # 32 a second fit, and 1000 / 5 is more
    seen = []
    for _ in range(200):  # fast requests, a tick apart: an interval is four ticks
        now = finish(limit, at=now, count=1, latency=0.01)
        seen.append(limit.value)
    assert seen == sorted(seen)
    assert seen[:4] == [32, 32, 32, 36]  # 32 * 1.1 + 1
    assert seen[-1] == 1000


def test_the_target_is_a_quarter_of_the_budget() -> None:
    limit = for_budget(1000, 4.0)
    assert (limit.target_s, limit.floor, limit.ceiling) == (4.0 * TARGET_SHARE, FLOOR, 1000)
    assert for_budget(10, 4.0).floor == 10  # never above the ceiling


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(ceiling=0, floor=1, target_s=1.0)
