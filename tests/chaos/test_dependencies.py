"""Faults between the service and its dependencies, injected with Toxiproxy and by killing
processes, each under open-loop load, asserting what callers see."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter

import pytest

from devkit.caller import NO_RESPONDERS, TIMEOUT
from devkit.chaos.load import DISCONNECTED, Timeline, open_loop
from devkit.recorded_answers import EventQuery, read_events
from tests.chaos.conftest import Rig, report

pytestmark = pytest.mark.chaos

RATE = 100
"""Requests a second: a quarter of what one replica serves here with margin to spare."""
IDS = [str(n) for n in range(1, 1001)]
BUDGET_S = 4.0
"""REQUEST_TIMEOUT_S: every failure must reach the caller within it (plus delivery)."""


def load(rig: Rig, duration_s: float, *schedule: tuple[float, str, object]) -> Timeline:
    return asyncio.run(
        open_loop(
            rig.nats_url,
            rig.creds("client"),
            rate=RATE,
            duration_s=duration_s,
            ids=IDS,
            schedule=schedule,  # type: ignore[arg-type]
        )
    )


def test_dynamodb_unreachable_for_6_s(rig: Rig) -> None:
    """Only requests made while DynamoDB is away fail, each a 503 within the budget; nobody
    times out; answers are back within a second of DynamoDB."""
    timeline = load(
        rig,
        12,
        (3, "cut", lambda: rig.toxiproxy.enabled(rig.to_dynamodb, False)),
        (9, "restored", lambda: rig.toxiproxy.enabled(rig.to_dynamodb, True)),
    )
    cut, restored = timeline.marks["cut"], timeline.marks["restored"]
    failed = [s for s in timeline.shots if not s.ok]
    report(
        "dynamodb-unreachable",
        {
            "codes": timeline.codes(),
            "slowest_failure_s": round(max((s.latency_s for s in failed), default=0), 3),
            "first_answer_after_s": _after(timeline, restored),
        },
    )
    assert timeline.timeouts == 0
    assert set(timeline.codes()) <= {200, 503}
    assert failed, "the fault did not reach the service"
    assert all(cut - 0.5 <= s.sent_s <= restored for s in failed)  # only those in the outage
    assert max(s.latency_s for s in failed) < BUDGET_S + 0.5
    assert all(s.ok for s in timeline.between(restored + 1.0, 12))


def test_dynamodb_slow_then_resetting_connections(rig: Rig) -> None:
    """300 ms more per DynamoDB call: every request still answered, p99 reported. Then 5% of
    connections reset: retries absorb them (the bound: at most 1% 503s, no timeouts)."""
    slow = rig.toxiproxy.toxic(rig.to_dynamodb, "latency", latency=300)
    slowed = load(rig, 8)
    rig.toxiproxy.remove_toxic(rig.to_dynamodb, slow)
    rig.toxiproxy.toxic(rig.to_dynamodb, "reset_peer", toxicity=0.05, timeout=0)
    resetting = load(rig, 8)
    report(
        "dynamodb-slow",
        {
            "codes": slowed.codes(),
            "p50_s": round(slowed.latency_percentile(0.5), 3),
            "p99_s": round(slowed.latency_percentile(0.99), 3),
        },
    )
    report(
        "dynamodb-resets",
        {"codes": resetting.codes(), "p99_s": round(resetting.latency_percentile(0.99), 3)},
    )
    assert slowed.codes() == {200: len(slowed.shots)}
    assert 0.3 <= slowed.latency_percentile(0.5) < 2.0
    assert resetting.timeouts == 0
    assert set(resetting.codes()) <= {200, 503}
    assert resetting.codes().get(503, 0) <= len(resetting.shots) // 100


def test_nats_server_killed_and_restarted_under_load(rig: Rig) -> None:
    """kill -9, back on the same store 2 s later: the replica stays up, answers resume within
    3 s, and every answered request has its event in the stream (read as the reader)."""

    def kill() -> None:
        os.kill(rig.nats.pid, signal.SIGKILL)
        rig.nats.process.wait(timeout=10)

    timeline = load(rig, 14, (4, "killed", kill), (6, "restarted", rig.restart_nats))
    back = timeline.marks["restarted"]
    resumed = _after(timeline, back)
    report("nats-killed", {"codes": timeline.codes(), "answers_resumed_after_s": resumed})
    assert rig.replica.process.poll() is None, "the replica exited"
    assert resumed is not None
    assert resumed <= 3.0
    assert all(s.ok for s in timeline.between(back + 3.0, 14))
    assert set(timeline.codes()) <= {200, 503, TIMEOUT, NO_RESPONDERS, DISCONNECTED}
    answered = Counter(s.client_id for s in timeline.shots if s.ok)
    recorded = asyncio.run(_recorded(rig))
    assert [i for i, n in answered.items() if recorded[i] < n] == []  # an event for each 200


def test_the_replicas_link_to_nats_silent_for_20_s(rig: Rig) -> None:
    """Toxiproxy's `timeout` toxic holds the replica's connection open and passes nothing,
    both ways: a silent partition, which no socket error reveals. The replica says it cannot
    receive, gives the connection up, and answers within 10 s of the link's return."""
    silent: list[str] = []

    def cut() -> None:
        for stream in ("downstream", "upstream"):
            silent.append(rig.toxiproxy.toxic(rig.to_nats, "timeout", stream=stream, timeout=0))

    def heal() -> None:
        for name in silent:
            rig.toxiproxy.remove_toxic(rig.to_nats, name)

    timeline = load(rig, 34, (4, "cut", cut), (24, "healed", heal))
    healed = timeline.marks["healed"]
    resumed = _after(timeline, healed)
    said = [e.get("reason") for e in rig.replica.events_named("nats.not_receiving")]
    report(
        "nats-link-silent",
        {"codes": timeline.codes(), "answers_resumed_after_s": resumed, "replica_said": said[:2]},
    )
    assert rig.replica.process.poll() is None, "the replica exited"
    assert said, "the replica never said it could not receive"
    assert resumed is not None
    assert resumed < 10.0
    assert all(s.ok for s in timeline.between(healed + 10.0, 34))


def _after(timeline: Timeline, moment_s: float) -> float | None:
    first = timeline.first_ok_after(moment_s)
    return None if first is None else round(first.sent_s + first.latency_s - moment_s, 3)


async def _recorded(rig: Rig) -> Counter[str]:
    """Events in the stream by client id, read as the reader user."""
    lines: list[str] = []
    await read_events(rig.nats_url, rig.creds("reader"), EventQuery(last=100_000), lines.append)
    return Counter(str(json.loads(line)["client_id"]) for line in lines)
