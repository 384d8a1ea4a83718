"""Which request runs next, decided on a clock the test holds."""

from __future__ import annotations

from service.admission import START_MARGIN_S, Admission, Verdict


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
    expired, following = admission.finished(now=2.0)
    assert (expired, following) == (["stale"], "fresh")
    assert (admission.running, admission.queued) == (1, 0)
    assert admission.finished(now=3.0) == ([], None)
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
    assert admission.finished(now=0.15) == (["queued"], None)  # 50 ms left of 100 ms margin
    assert admission.offer("gone", deadline=0.0, now=0.0, allowed_s=0.0) is Verdict.EXPIRED
