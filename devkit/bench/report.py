"""A run's result as one typed record (the `--json` document) and as the lines a person reads."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, JsonValue

from devkit.bench.caveats import comparison_lines, warnings
from devkit.bench.load import LoadResult
from devkit.bench.outcome import Outcome, outcome_fields
from devkit.bench.peer_report import PeerReport
from devkit.bench.ratios import (
    GATEWAY_FLOOR_TARGET,
    SERVICE_FLOOR_TARGET,
    ratio,
    service_floor_cpu,
)
from devkit.bench.stats import StatsDelta
from devkit.stack.state import GATEWAY, REPLICA_PREFIX


class BaselineFigures(BaseModel):
    """What the stack's parts do on their own (devkit.bench.baseline)."""

    getitem_rps: float
    batchgetitem_items_per_s: float
    nats_echo_rps: float
    dynamodb_concurrency: int
    duration_s_each: float
    dynamodb_batch_keys: int | None = None
    """Keys per BatchGetItem call: the service's own batch size (Settings.ddb_batch_max)."""
    dynamodb_cpu_us_per_item: float | None = None
    """The DynamoDB client's CPU per item read at that batch size: a replica's DynamoDB share."""
    service_floor_rps: float | None = None
    service_floor_nats_cpu_us_per_request: float | None = None
    """The bare responder's CPU per answered request (devkit.bench.service_floor)."""
    gateway_floor_rps: float | None = None
    gateway_floor_cpu_us_per_request: float | None = None
    """With --http: the bare aiohttp handler's CPU per request (devkit.bench.gateway_floor)."""


class BaselineReport(BaselineFigures):
    fraction_of_getitem: float | None
    fraction_of_batchgetitem: float | None
    fraction_of_nats_echo: float | None
    service_floor_cpu_us_per_request: float | None = None
    """The service floor: the responder's NATS work plus the DynamoDB share per item."""
    service_cpu_to_floor: float | None = None
    """Service CPU per answered request / service floor (target SERVICE_FLOOR_TARGET)."""
    service_floor_target: float = SERVICE_FLOOR_TARGET
    gateway_cpu_to_floor: float | None = None
    """Gateway CPU per request / gateway floor (target GATEWAY_FLOOR_TARGET)."""
    gateway_floor_target: float = GATEWAY_FLOOR_TARGET


def baseline_report(
    baseline: BaselineFigures,
    throughput: float,
    service_cpu_us: float | None,
    gateway_cpu_us: float | None,
) -> BaselineReport:
    floor = service_floor_cpu(
        baseline.service_floor_nats_cpu_us_per_request, baseline.dynamodb_cpu_us_per_item
    )
    return BaselineReport(
        **baseline.model_dump(),
        fraction_of_getitem=_fraction(throughput, baseline.getitem_rps),
        fraction_of_batchgetitem=_fraction(throughput, baseline.batchgetitem_items_per_s),
        fraction_of_nats_echo=_fraction(throughput, baseline.nats_echo_rps),
        service_floor_cpu_us_per_request=floor,
        service_cpu_to_floor=ratio(service_cpu_us, floor),
        gateway_cpu_to_floor=ratio(gateway_cpu_us, baseline.gateway_floor_cpu_us_per_request),
    )


class Machine(BaseModel):
    cpus: int | None
    python: str
    platform: str
    note: str = "load generator and stack share the same cores"


class BenchResult(Outcome):
    """The `--json` document; keys are stable, figures rounded as printed."""

    requests: int
    concurrency: int
    clients: int
    rate: float | None
    timeout_s: float
    duration_s: float
    cpu_s: dict[str, float]
    service_stats: StatsDelta | None
    machine: Machine
    service_cpu_us_per_request: float | None = None
    baseline: BaselineReport | None = None
    target: Literal["local", "remote"] = "local"
    transport: Literal["nats", "http"] = "nats"
    gateway_cpu_us_per_request: float | None = None
    """With --http: the local gateway's CPU per request it carried."""
    started_at: str = ""
    """UTC, RFC 3339: when the run began."""
    commit: str | None = None
    """The repository's commit (with "-dirty" for uncommitted changes), when known."""
    service_settings: dict[str, JsonValue] | None = None
    """The local replicas' settings that shape performance; None for a remote target."""
    warnings: list[str] = Field(default_factory=list)
    generator: Literal["python", "vegeta"] = "python"
    """Who sent the requests: the Python generator's processes, or vegeta (Go, HTTP only)."""
    peer: PeerReport | None = None
    """With --peer: the peer's run after this one (same plan, same stack)."""

    def document(self) -> dict[str, Any]:
        """The JSON object; the optional figures appear only when measured."""
        optional = {"service_cpu_us_per_request", "baseline", "gateway_cpu_us_per_request", "peer"}
        absent = {name for name in optional if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=absent)


def machine_description() -> Machine:
    return Machine(cpus=os.cpu_count(), python=sys.version.split()[0], platform=sys.platform)


def result_document(
    result: LoadResult,
    *,
    stats: StatsDelta | None = None,
    cpu_s: dict[str, float] | None = None,
    baseline: BaselineFigures | None = None,
    machine: Machine | None = None,
    context: RunContext | None = None,
) -> BenchResult:
    cpu = cpu_s or {}
    context = context or RunContext()
    per_request = None
    replicas_cpu = sum(v for k, v in cpu.items() if k.startswith(REPLICA_PREFIX)) or None
    answered = 0 if stats is None else stats.requests - stats.errors
    if answered > 0 and replicas_cpu:  # per answered request: what the floor is measured by
        per_request = round(replicas_cpu / answered * 1e6, 1)
    throughput = result.throughput_rps
    gateway_per_request = (
        round(cpu[GATEWAY] / result.requests * 1e6, 1)
        if context.transport == "http" and GATEWAY in cpu
        else None
    )
    return BenchResult(
        requests=result.requests,
        concurrency=result.concurrency,
        clients=result.clients,
        rate=result.rate,
        timeout_s=result.timeout_s,
        duration_s=round(result.duration_s, 3),
        **outcome_fields(result),
        cpu_s={"generator": round(result.generator_cpu_s, 3), **cpu},
        service_stats=stats,
        machine=machine or machine_description(),
        service_cpu_us_per_request=per_request,
        baseline=None
        if baseline is None
        else baseline_report(baseline, throughput, per_request, gateway_per_request),
        target=context.target,
        transport=context.transport,
        gateway_cpu_us_per_request=gateway_per_request,
        started_at=context.started_at,
        commit=context.commit,
        service_settings=context.service_settings,
        generator=context.generator,
        warnings=warnings(result, replicas_cpu_s=replicas_cpu),
    )


@dataclass(frozen=True)
class RunContext:
    """Where and when a run happened, recorded with its figures."""

    target: Literal["local", "remote"] = "local"
    transport: Literal["nats", "http"] = "nats"
    started_at: str = ""
    commit: str | None = None
    service_settings: dict[str, JsonValue] | None = None
    generator: Literal["python", "vegeta"] = "python"


def _fraction(value: float, of: float | None) -> float | None:
    return round(value / of, 3) if of else None


def summary_line(result: LoadResult) -> str:
    """The original benchmark's own line, printed as it printed it, so runs can be set side by
    side; its "average" is wall time / N of a closed loop, not a latency."""
    average_ms = result.duration_s * 1000 / result.requests
    return (
        f"Total of {result.requests} requests, with max concurrency {result.concurrency}, and"
        f" request timeout {result.timeout_s:g}s, completed in {result.duration_s:.3f}s."
        f" Average call took {average_ms:.2f} milliseconds"
    )


def render(document: BenchResult, result: LoadResult) -> list[str]:
    latency = document.latency_ms
    lines = [
        "the original's summary line (its average is wall time / N, closed loop, not a latency):",
        "  " + summary_line(result),
        f"throughput: {document.throughput_rps:,.1f} req/s over {document.duration_s} s"
        f" ({_generator(document)}, concurrency {document.concurrency});"
        f" answered in time: {document.goodput_rps:,.1f} req/s",
        "latency ms: "
        + "  ".join(f"{name} {_ms(value, 2)}" for name, value in latency.model_dump().items()),
        f"ok {document.ok}  errors {document.errors or 0}  timeouts {document.timeouts}"
        f"  no responders {document.no_responders}  other failures {document.failed}",
    ]
    stats = document.service_stats
    if stats:
        lines.append(
            f"service ($SRV.STATS, {stats.instances} instance(s)): {stats.requests} requests,"
            f" {stats.errors} errors, average processing {stats.average_processing_ms:.2f} ms,"
            f" {stats.expired} dropped as expired, concurrency limit at the end"
            f" {', '.join(map(str, stats.concurrency_limits)) or 'n/a'}"
        )
        if stats.event_ack_share is not None or stats.mean_event_ack_wait_ms is not None:
            lines.append(
                f"event ack share: {_share(stats.event_ack_share)} of processing time;"
                f" mean ack wait per event {_ms(stats.mean_event_ack_wait_ms, 3)} ms"
            )
    lines.append(
        "CPU seconds: "
        + "  ".join(f"{name} {seconds:.2f}" for name, seconds in document.cpu_s.items())
    )
    if document.service_cpu_us_per_request is not None:
        lines.append(f"service CPU per answered request: {document.service_cpu_us_per_request} us")
    if document.gateway_cpu_us_per_request is not None:
        lines.append(f"HTTP gateway CPU per request: {document.gateway_cpu_us_per_request} us")
    baseline = document.baseline
    if baseline:
        lines.append(
            f"baseline at concurrency {document.concurrency}: GetItem {baseline.getitem_rps:,.0f}/s,"
            f" BatchGetItem {baseline.batchgetitem_items_per_s:,.0f} items/s,"
            f" NATS echo {baseline.nats_echo_rps:,.0f} req/s"
        )
        lines.append(
            "service throughput as a fraction of: "
            f"GetItem {baseline.fraction_of_getitem}, BatchGetItem items {baseline.fraction_of_batchgetitem},"
            f" NATS echo {baseline.fraction_of_nats_echo}"
        )
        lines.extend(floor_lines(document, baseline))
    lines.extend(comparison_lines(result))
    lines.extend(f"warning: {warning}" for warning in document.warnings)
    return lines


def _generator(document: BenchResult) -> str:
    if document.generator == "vegeta":
        return "vegeta (Go), one process"
    return f"{document.clients} generator process(es)"


def floor_lines(document: BenchResult, baseline: BaselineReport) -> list[str]:
    """Each floor and the component's CPU as a multiple of it, against issue #27's targets."""
    lines = []
    if baseline.service_floor_cpu_us_per_request is not None:
        lines.append(
            f"service floor (bare nats-py responder, {baseline.service_floor_rps:,.0f} req/s):"
            f" NATS {baseline.service_floor_nats_cpu_us_per_request} us + DynamoDB client"
            f" {baseline.dynamodb_cpu_us_per_item} us per item (BatchGetItem of"
            f" {baseline.dynamodb_batch_keys}) = {baseline.service_floor_cpu_us_per_request} us"
            " CPU per request"
        )
        lines.append(
            _ratio_line(
                "service CPU per answered request",
                document.service_cpu_us_per_request,
                baseline.service_floor_cpu_us_per_request,
                baseline.service_cpu_to_floor,
                baseline.service_floor_target,
            )
        )
    if baseline.gateway_floor_cpu_us_per_request is not None:
        lines.append(
            f"gateway floor (bare aiohttp handler, one NATS request each,"
            f" {baseline.gateway_floor_rps or 0:,.0f} req/s):"
            f" {baseline.gateway_floor_cpu_us_per_request} us CPU per request"
        )
        lines.append(
            _ratio_line(
                "gateway CPU per request",
                document.gateway_cpu_us_per_request,
                baseline.gateway_floor_cpu_us_per_request,
                baseline.gateway_cpu_to_floor,
                baseline.gateway_floor_target,
            )
        )
    return lines


def _ratio_line(
    what: str, measured: float | None, floor: float | None, ratio: float | None, target: float
) -> str:
    if ratio is None:
        return f"{what} vs its floor: not measured (no CPU figure for it in this run)"
    verdict = "met" if ratio <= target else "not met"
    return (
        f"{what} vs its floor: {measured} us / {floor} us = {ratio:.2f}x"
        f" (target <= {target:g}x: {verdict})"
    )


def replica_table(rows: Sequence[tuple[int, BenchResult]]) -> list[str]:
    lines = [
        f"{'replicas':>8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ok':>8} {'errors':>7} {'timeouts':>8}"
    ]
    for replicas, document in rows:
        errors = sum(document.errors.values())
        lines.append(
            f"{replicas:>8} {document.throughput_rps:>10,.1f} {_ms(document.latency_ms.p50):>8}"
            f" {_ms(document.latency_ms.p99):>8} {document.ok:>8} {errors:>7} {document.timeouts:>8}"
        )
    return lines


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))


def _ms(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _share(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction:.1%}"
