"""The peer's figures (`--peer original`) beside this service's: one typed record in the JSON
document, and the lines a person reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from devkit.bench.load import LoadResult
from devkit.bench.outcome import Outcome, outcome_fields
from devkit.bench.ratios import ratio


class Ours(Protocol):
    """This service's run, as far as the comparison reads it."""

    @property
    def throughput_rps(self) -> float: ...

    @property
    def goodput_rps(self) -> float: ...


class OwnBenchReport(BaseModel):
    """The original's own benchmark client against one service: its summary, or its last line."""

    against: Literal["original", "this service"]
    requests: int | None
    seconds: float | None
    rps: float | None
    said: str


class PeerReport(Outcome):
    """The peer (`--peer original`) under the same load on the same stack, after this service."""

    name: Literal["original"] = "original"
    cpu_s: float
    """The peer's own process."""
    cpu_us_per_answered_request: float | None
    generator_cpu_s: float
    throughput_ratio: float | None
    """This service's throughput / the peer's, the same plan on the same stack."""
    goodput_ratio: float | None
    own_bench: list[OwnBenchReport] = Field(default_factory=list)


def peer_report(
    result: LoadResult, cpu_s: float, ours: Ours, own_bench: Sequence[OwnBenchReport]
) -> PeerReport:
    outcome = outcome_fields(result)
    return PeerReport(
        **outcome,
        cpu_s=round(cpu_s, 3),
        cpu_us_per_answered_request=round(cpu_s / result.ok * 1e6, 1) if result.ok else None,
        generator_cpu_s=round(result.generator_cpu_s, 3),
        throughput_ratio=ratio(ours.throughput_rps, outcome["throughput_rps"]),
        goodput_ratio=ratio(ours.goodput_rps, outcome["goodput_rps"]),
        own_bench=list(own_bench),
    )


def peer_lines(peer: PeerReport) -> list[str]:
    latency = peer.latency_ms
    lines = [
        f"peer {peer.name} (same load, same stack, after this service):"
        f" {peer.throughput_rps:,.1f} req/s, answered in time {peer.goodput_rps:,.1f} req/s,"
        f" p50 {_ms(latency.p50)} ms, p99 {_ms(latency.p99)} ms",
        f"  ok {peer.ok}  errors {peer.errors or 0}  timeouts {peer.timeouts}"
        f"  no responders {peer.no_responders}  other failures {peer.failed}",
        f"  its CPU {peer.cpu_s:.2f} s ({peer.cpu_us_per_answered_request} us per answered"
        f" request), generator {peer.generator_cpu_s:.2f} s",
        f"this service / {peer.name}: throughput {_ratio(peer.throughput_ratio)},"
        f" answered in time {_ratio(peer.goodput_ratio)}",
    ]
    for own in peer.own_bench:
        verdict = (
            f"{own.requests} requests in {own.seconds:.2f} s ({own.rps:,.0f} req/s)"
            if own.rps is not None and own.seconds is not None
            else f"no summary; it said: {own.said}"
        )
        lines.append(f"the original's own benchmark client against {own.against}: {verdict}")
    return lines


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
