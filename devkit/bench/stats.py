"""What the stack itself says about a run: the replicas' `$SRV.STATS`, and CPU from `/proc`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from devkit.bench.load import connect
from devkit.bench.plan import ServiceAddress
from service import names
from service.discovery import EndpointStats, StatsResponse

ACK_WAIT = "event_ack_wait_ns"
ACK_WAITS = "event_ack_waits"
"""The service's own counts in `$SRV.STATS` data: total ack wait, and how many answers waited."""
"""The service's total event ack wait in `$SRV.STATS` data (service.events.EventRecorder)."""


class StatsDelta(BaseModel):
    """What the replicas themselves counted during a run."""

    instances: int
    requests: int
    errors: int
    average_processing_ms: float
    expired: int = 0
    """Requests dropped unanswered because their caller's timeout had passed."""
    concurrency_limits: list[int] = []
    """Each replica's concurrency limit at the end (service/concurrency_limit.py)."""
    event_ack_share: float | None = None
    """Time answers waited for their event's JetStream ack / processing time; None when the
    replicas do not count it."""
    mean_event_ack_wait_ms: float | None = None
    """Total event ack wait / requests answered without an error."""


async def service_stats(
    target: ServiceAddress, *, expect: int = 0, window_s: float = 0.5, patience_s: float = 10.0
) -> dict[str, EndpointStats]:
    """Every instance's `$SRV.STATS` endpoint figures, by instance id.

    Waits `window_s` for replies, and up to `patience_s` for `expect` instances: a replica still
    working through a backlog answers late.
    """
    nc = await connect(target, "customer-bench-stats")
    replies: dict[str, EndpointStats] = {}
    try:
        inbox = nc.new_inbox()

        async def collect(msg: Msg) -> None:
            try:
                document = StatsResponse.model_validate_json(msg.data)
            except ValidationError:
                return  # not a micro service's STATS document: not ours to count
            if document.endpoints:
                replies[document.id] = document.endpoints[0]

        subscription = await nc.subscribe(inbox, cb=collect)
        await nc.publish(f"$SRV.STATS.{names.SERVICE_NAME}", b"", reply=inbox)
        await asyncio.sleep(window_s)
        waited = window_s
        while len(replies) < expect and waited < patience_s:
            await asyncio.sleep(0.1)
            waited += 0.1
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return replies


def stats_delta(
    before: Mapping[str, EndpointStats], after: Mapping[str, EndpointStats]
) -> StatsDelta:
    """Instances that restarted during the run count whole."""
    requests = errors = processing_ns = expired = ack_wait_ns = ack_waits = 0
    limits = []
    for instance, now in after.items():
        then = before.get(instance)
        requests += now.num_requests - (then.num_requests if then else 0)
        errors += now.num_errors - (then.num_errors if then else 0)
        processing_ns += now.processing_time - (then.processing_time if then else 0)
        expired += _figure(now, "expired") - (_figure(then, "expired") if then else 0)
        ack_wait_ns += _figure(now, ACK_WAIT) - (_figure(then, ACK_WAIT) if then else 0)
        ack_waits += _figure(now, ACK_WAITS) - (_figure(then, ACK_WAITS) if then else 0)
        if now.data and isinstance(limit := now.data.get("concurrency_limit"), int):
            limits.append(limit)
    counted = any(ACK_WAIT in (stats.data or {}) for stats in after.values())
    return StatsDelta(
        instances=len(after),
        requests=requests,
        errors=errors,
        average_processing_ms=processing_ns / requests / 1e6 if requests else 0.0,
        expired=expired,
        concurrency_limits=limits,
        **(ack_wait_figures(ack_wait_ns, processing_ns, ack_waits) if counted else {}),
    )


def ack_wait_figures(ack_wait_ns: int, processing_ns: int, waits: int) -> dict[str, float | None]:
    """The event ack share of processing time and the mean wait per event (the service counts
    each wait, acknowledged or not, beside its total); each None when there is nothing to
    divide by."""
    return {
        "event_ack_share": round(ack_wait_ns / processing_ns, 3) if processing_ns else None,
        "mean_event_ack_wait_ms": round(ack_wait_ns / waits / 1e6, 3) if waits else None,
    }


def _figure(stats: EndpointStats, name: str) -> int:
    """One of the service's own counts in `data`; 0 from a replica that does not keep it."""
    value = (stats.data or {}).get(name)
    return value if isinstance(value, int) else 0


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a local process (Linux /proc), None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def container_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of the whole container `pid` runs in (its cgroup), None when unreadable."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    paths = dict(line.split(":", 2)[1:] for line in lines if line.count(":") >= 2)
    for controllers, path in paths.items():  # cgroup v1: cpuacct.usage, in nanoseconds
        if "cpuacct" in controllers.split(","):
            usage = Path(f"/sys/fs/cgroup/{controllers}{path}/cpuacct.usage")
            if usage.exists():
                return int(usage.read_text()) / 1e9
    if "" in paths:  # cgroup v2: usage_usec in cpu.stat
        stat = Path(f"/sys/fs/cgroup{paths['']}/cpu.stat")
        if stat.exists():
            fields = dict(line.split() for line in stat.read_text().splitlines())
            return int(fields["usage_usec"]) / 1e6
    return process_cpu_seconds(pid)


@dataclass(frozen=True)
class CpuProbe:
    """How to read one local component's CPU seconds."""

    pid: int
    read: Callable[[int], float | None]


def cpu_snapshot(probes: Mapping[str, CpuProbe]) -> dict[str, float]:
    snapshot = {}
    for name, probe in probes.items():
        seconds = probe.read(probe.pid)
        if seconds is not None:
            snapshot[name] = seconds
    return snapshot


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 3) for name in after if name in before}
