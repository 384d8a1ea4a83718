"""Node faults of the three-node cluster (`STACK_NATS_NODES=3`) under open-loop load through a
native stack of two replicas: the stream's leader killed -9, the leader restarted gracefully
(lame-duck mode, as an upgrade does), the leader partitioned from the other two.

Each case, after recovery: every answered request's event is in the stream once (by customer
and message id, devkit.chaos.ledger), no answer carries a balance the stream does not hold,
requests fail only while the stream has no leader (measured: from the fault to the first stream
info naming a new one, devkit.chaos.leaders), and every replica answers within 10 s of the new
leader. The figures go to the test log (`report`) and to the faults table in
docs/operations.md."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devkit import platform_names
from devkit.chaos.leaders import Sighting, all_current_at, new_leader_at, watch_stream
from devkit.chaos.ledger import Event, audit, read_ledger, stream_last_seq
from devkit.chaos.load import Shot, Timeline, open_loop
from devkit.stack.processes import find_binary, process_alive
from devkit.stack.state import StackState
from tests.chaos.conftest import report
from tests.support.commands import invoke, stack_environment

pytestmark = pytest.mark.chaos

RATE = 200
"""Requests a second: the rate the brief asks for, well within two replicas on the cluster."""
IDS = [str(n) for n in range(1, 1001)]
RECOVERY_S = 10.0
"""Every replica answers within this many seconds of the new leader."""
LATE_S = 0.5
"""A request sent this long after the new leader was seen may still fail: the watcher polls
every 0.1 s, and the leader's first answer crosses a route before the service's publish does."""
NODE_PORTS = (
    "STACK_NATS_CLUSTER_PORT",
    "STACK_NATS_2_PORT",
    "STACK_NATS_2_MONITOR_PORT",
    "STACK_NATS_2_CLUSTER_PORT",
    "STACK_NATS_3_PORT",
    "STACK_NATS_3_MONITOR_PORT",
    "STACK_NATS_3_CLUSTER_PORT",
)


@dataclass(frozen=True)
class Node:
    component: str
    """"nats", "nats-2" or "nats-3"."""
    pid: int
    server_name: str
    url: str


class Cluster:
    """A running clustered stack, seen as its operator sees it: `invoke status --json`, the
    state file's addresses, and each node's own monitoring port for its server name."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.root = Path(env["STACK_DIR"])

    def creds(self, user: str) -> Path:
        return self.root / "creds" / f"{user}.creds"

    def nodes(self) -> list[Node]:
        status = json.loads(invoke(self.env, "status", "--json").stdout)
        pids = {c["name"]: c["pid"] for c in status["components"]}
        state = StackState.load(self.root / "state.json")
        found = []
        for name, component in sorted(state.components.items()):
            if not (name == "nats" or name.startswith("nats-")):
                continue
            assert component.address_monitor is not None
            assert component.address is not None
            varz = httpx.get(f"{component.address_monitor}/varz", timeout=5).json()
            found.append(Node(name, int(pids[name]), str(varz["server_name"]), component.address))
        assert len(found) == 3, [n.component for n in found]
        return found

    def node_named(self, server_name: str) -> Node:
        (node,) = [n for n in self.nodes() if n.server_name == server_name]
        return node

    @property
    def servers(self) -> str:
        return ",".join(n.url for n in self.nodes())

    def sighting(self) -> Sighting:
        sightings = asyncio.run(
            watch_stream(self.servers, self.creds(platform_names.READER_USER), 0.05)
        )
        return sightings[-1]

    def wait_all_current(self, limit_s: float = 60) -> Sighting:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            seen = self.sighting()
            if seen.all_current:
                return seen
            time.sleep(0.2)
        raise AssertionError(f"the stream's replicas not all current within {limit_s} s: {seen}")

    def up(self) -> None:
        again = invoke(self.env, "up")
        assert again.returncode == 0, again.stdout + again.stderr


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A native stack of its own with three nats-servers and two replicas; always removed."""
    env = {
        **stack_environment(tmp_path / "stack", "native"),
        **{variable: "0" for variable in NODE_PORTS},
        "STACK_NATS_NODES": "3",
    }
    try:
        up = invoke(env, "up", "-r", "2")
        assert up.returncode == 0, up.stdout + up.stderr
        ready = Cluster(env)
        ready.wait_all_current()
        yield ready
    finally:
        invoke(env, "down", "--wipe")


@dataclass
class Run:
    """One load with a fault: the callers' timeline, the stream's leadership on the same clock,
    and the events stored meanwhile."""

    timeline: Timeline
    sightings: list[Sighting]
    events: list[Event]
    old_leader: str
    wall_minus_load_s: float
    """time.time() minus the load's clock: to place an event's served_at on the load's clock."""
    back_s: float | None = None
    """When the faulted node was back (restarted, or its partition healed), on the load's clock."""

    @property
    def fault_s(self) -> float:
        return self.timeline.marks["fault"]


def run(
    cluster: Cluster,
    duration_s: float,
    fault_at_s: float,
    fault: Callable[[Node], float | None],
) -> Run:
    """Load for `duration_s`; at `fault_at_s`, `fault(leader node)`, which returns when the node
    was back (time.monotonic()) if it brings it back."""
    leader = cluster.sighting().leader
    assert leader is not None, "no stream leader before the fault"
    victim = cluster.node_named(leader)
    servers = cluster.servers
    reader = cluster.creds(platform_names.READER_USER)
    before = asyncio.run(stream_last_seq(servers, reader))
    sightings: list[Sighting] = []
    clocks: dict[str, float] = {}

    def watch() -> None:
        sightings.extend(asyncio.run(watch_stream(servers, reader, duration_s)))

    def act() -> None:
        clocks["fault_monotonic"] = time.monotonic()
        clocks["fault_wall"] = time.time()
        back = fault(victim)
        if back is not None:
            clocks["back_monotonic"] = back

    timeline = asyncio.run(
        open_loop(
            servers,
            cluster.creds(platform_names.CLIENT_USER),
            rate=RATE,
            duration_s=duration_s,
            ids=IDS,
            schedule=[(0.0, "watching", watch), (fault_at_s, "fault", act)],
        )
    )
    cluster.wait_all_current()
    events = asyncio.run(read_ledger(cluster.servers, reader, before))
    watching = timeline.marks["watching"]
    fault_s = timeline.marks["fault"]
    back = clocks.get("back_monotonic")
    return Run(
        timeline,
        [Sighting(s.at_s + watching, s.leader, s.followers, s.current) for s in sightings],
        events,
        leader,
        clocks["fault_wall"] - fault_s,
        None if back is None else fault_s + back - clocks["fault_monotonic"],
    )


def served_s(event: Event, run_: Run) -> float:
    """When the event's replica served it, on the load's clock."""
    served = datetime.fromisoformat(event.served_at.replace("Z", "+00:00")).astimezone(UTC)
    return served.timestamp() - run_.wall_minus_load_s


def check(run_: Run, name: str) -> None:
    """What every node fault must leave true; reports the figures first, so a failure shows them."""
    timeline, fault_s = run_.timeline, run_.fault_s
    elected = new_leader_at(run_.sightings, fault_s, run_.old_leader)
    assert elected is not None, f"no new leader after the fault: {run_.sightings[-5:]}"
    window = (fault_s, elected.at_s)
    failed = [s for s in timeline.shots if not s.ok]
    outside = [s for s in failed if not _inside(s, window)]
    first = timeline.first_ok_after(fault_s)
    replicas = {e.service_id for e in run_.events if served_s(e, run_) < fault_s}
    answering: dict[str, float] = {}
    for event in run_.events:
        after = served_s(event, run_) - elected.at_s
        if after >= 0:
            answering[event.service_id] = min(after, answering.get(event.service_id, after))
    current = all_current_at(
        run_.sightings, max(elected.at_s, run_.back_s if run_.back_s is not None else 0)
    )
    findings = audit(timeline.shots, run_.events)
    report(
        name,
        {
            "old_leader": run_.old_leader,
            "new_leader": elected.leader,
            "leaderless_window_s": round(elected.at_s - fault_s, 2),
            "first_answer_after_fault_s": None
            if first is None
            else round(first.sent_s + first.latency_s - fault_s, 2),
            "requests": len(timeline.shots),
            "failures": len(failed),
            "failures_outside_window": len(outside),
            "every_replica_answering_after_new_leader_s": round(max(answering.values()), 2)
            if answering
            else None,
            "codes": timeline.codes(),
            "node_back_after_fault_s": None
            if run_.back_s is None
            else round(run_.back_s - fault_s, 2),
            "replicas_current_after_back_s": None
            if current is None or run_.back_s is None
            else round(current.at_s - run_.back_s, 2),
            "events": len(run_.events),
            "audit": {
                "missing": len(findings.missing),
                "surplus": len(findings.surplus),
                "duplicated": len(findings.duplicated),
                "unrecorded_balances": len(findings.unrecorded_balances),
            },
        },
    )
    assert findings.clean, findings
    assert outside == [], [(round(s.sent_s, 2), s.code) for s in outside[:10]]
    assert len(replicas) == 2, replicas  # both replicas answered before the fault
    assert set(answering) == replicas, answering
    assert max(answering.values()) < RECOVERY_S, answering
    assert all(s.ok for s in timeline.between(elected.at_s + RECOVERY_S, timeline.shots[-1].sent_s))


def _inside(shot: Shot, window: tuple[float, float]) -> bool:
    """Sent before the new leader was seen (plus LATE_S), and still waiting at the fault."""
    start, end = window
    return shot.sent_s + shot.latency_s >= start and shot.sent_s <= end + LATE_S


def wait_gone(pid: int, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} still running after {limit_s} s")
        time.sleep(0.05)


def test_stream_leader_killed(cluster: Cluster) -> None:
    """kill -9 of the stream's leader; `invoke up` starts it again and it catches up."""

    def kill(leader: Node) -> float:
        os.kill(leader.pid, signal.SIGKILL)
        wait_gone(leader.pid)
        cluster.up()
        return time.monotonic()

    check(run(cluster, 24, 4, kill), "stream-leader-killed")


def test_stream_leader_restarted_in_lame_duck_mode(cluster: Cluster) -> None:
    """`nats-server --signal ldm=<pid>`: the leader hands its leaderships over, closes its
    clients and exits, as an upgrade does; `invoke up` starts it again."""

    def lame_duck(leader: Node) -> float:
        subprocess.run(
            [str(find_binary("nats-server")), "--signal", f"ldm={leader.pid}"],
            check=True,
            capture_output=True,
        )
        wait_gone(leader.pid)
        cluster.up()
        return time.monotonic()

    check(run(cluster, 30, 4, lame_duck), "stream-leader-lame-duck")
