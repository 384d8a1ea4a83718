"""Which request runs next, decided on a clock the test holds."""

from __future__ import annotations

from service.admission import START_MARGIN_S, Admission, Verdict
from service.concurrency_limit import ConcurrencyLimit


def test_slots_first_then_the_queue_then_refusal() -> None:
    admission: Admission[str] = Admission(slots=2, queue_limit=1)
    verdicts = [admission.offer(name, deadline=4.0, now=0.0) for name in "abcd"]
    assert verdicts == [Verdict.START, Verdict.START, Verdict.QUEUED, Verdict.FULL]
    assert (admission.running, admission.queued) == (2, 1)


def test_a_request_with_too_little_budget_left_is_not_started() -> None:
    admission: Admission[str] = Admission(slots=2, queue_limit=2)
    assert admission.offer("late", deadline=1.0, now=1.0 - START_MARGIN_S / 2) is Verdict.EXPIRED
    assert admission.running == 0


def test_a_freed_slot_goes_to_the_oldest_request_that_can_still_finish() -> None:
    admission: Admission[str] = Admission(slots=1, queue_limit=3)
    admission.offer("running", deadline=4.0, now=0.0)
    admission.offer("stale", deadline=1.0, now=0.0)
    admission.offer("fresh", deadline=9.0, now=0.5)
    expired, starting = admission.finished(now=2.0)
    assert (expired, starting) == (["stale"], ["fresh"])
    assert (admission.running, admission.queued) == (1, 0)
    assert admission.finished(now=3.0) == ([], [])
    assert admission.running == 0


def test_stopping_drops_what_waits() -> None:
    admission: Admission[str] = Admission(slots=1, queue_limit=3)
    for name in "abc":
        admission.offer(name, deadline=4.0, now=0.0)
    assert admission.drop_queued() == ["b", "c"]
    assert admission.queued == 0


def test_a_short_allowance_keeps_half_of_itself_as_the_margin() -> None:
    """A caller that waits 200 ms may still be served: 250 ms of margin would refuse it always."""
    admission: Admission[str] = Admission(slots=1, queue_limit=2)
    assert admission.offer("brief", deadline=0.2, now=0.0, allowed_s=0.2) is Verdict.START
    assert admission.offer("queued", deadline=0.2, now=0.0, allowed_s=0.2) is Verdict.QUEUED
    assert admission.finished(now=0.15) == (["queued"], [])  # 50 ms left of 100 ms margin
    assert admission.offer("gone", deadline=0.0, now=0.0, allowed_s=0.0) is Verdict.EXPIRED


def test_under_a_lowered_limit_fewer_run_and_fewer_wait_and_nobody_overtakes() -> None:
    limit = ConcurrencyLimit(ceiling=4, floor=2, target_s=1.0)
    admission: Admission[str] = Admission(slots=4, queue_limit=4, limit=limit)
    for name in "abcd":
        assert admission.offer(name, deadline=9.0, now=0.0) is Verdict.START
    # Two of the four took 3 s and more against a 1 s target: the limit halves (its deepest cut).
    assert admission.finished(now=3.0, started=0.0) == ([], [])
    assert admission.finished(now=3.1, started=0.0) == ([], [])
    assert admission.allowed == 2
    assert [admission.offer(n, deadline=9.0, now=3.1) for n in "efg"] == [
        Verdict.QUEUED,
        Verdict.QUEUED,
        Verdict.FULL,  # the queue shrank with the limit: 4 * 2 // 4
    ]
    assert admission.finished(now=3.2, started=0.0) == ([], ["e"])
    assert admission.offer("h", deadline=9.0, now=3.2) is Verdict.QUEUED  # behind "f"
    assert admission.finished(now=3.3, started=0.0) == ([], ["f"])


def test_requests_running_beyond_a_lowered_limit_count_as_waiting_ahead() -> None:
    limit = ConcurrencyLimit(ceiling=4, floor=2, target_s=1.0)
    admission: Admission[str] = Admission(slots=4, queue_limit=4, limit=limit)
    for name in "abcd":
        admission.offer(name, deadline=9.0, now=0.0)
    limit.observe(started=-3.0, now=0.0)  # two that ran elsewhere took 3 s: the limit halves
    limit.observe(started=-2.9, now=0.1)
    assert (admission.allowed, admission.running) == (2, 4)
    assert admission.offer("e", deadline=9.0, now=0.1) is Verdict.FULL  # 2 places, 2 ahead


def test_slow_failures_do_not_lower_the_limit() -> None:
    """DynamoDB down: requests are slow because they fail, not because they queue."""
    limit = ConcurrencyLimit(ceiling=4, floor=2, target_s=1.0)
    admission: Admission[str] = Admission(slots=4, queue_limit=4, limit=limit)
    for name in "abcd":
        admission.offer(name, deadline=9.0, now=0.0)
    admission.finished(now=3.0, started=0.0, answered=False)
    admission.finished(now=3.2, started=0.0, answered=False)
    assert admission.allowed == 4


def test_a_queued_request_out_of_time_is_refused_even_while_none_may_start() -> None:
    limit = ConcurrencyLimit(ceiling=4, floor=1, target_s=1.0)
    admission: Admission[str] = Admission(slots=4, queue_limit=4, limit=limit)
    for name in "abcd":
        admission.offer(name, deadline=9.0, now=0.0)
    assert admission.offer("short", deadline=2.0, now=0.0) is Verdict.QUEUED
    limit.observe(started=-5.0, now=0.0)  # answers took 5 s: the limit falls to 1
    limit.observe(started=-4.9, now=0.1)
    assert admission.allowed == 1
    assert admission.finished(now=1.9) == (["short"], [])  # three still run, above the limit
