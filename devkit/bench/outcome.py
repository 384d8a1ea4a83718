"""What one load run got, as a report prints it: the figures this service's run and the peer's
share, computed in one place so the two stay comparable."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from devkit.bench.load import Latency, LoadResult


class Outcome(BaseModel):
    """A run's answers and failures, rounded as printed."""

    throughput_rps: float
    goodput_rps: float
    """Answered in time, per second: what callers got (throughput counts timeouts too)."""
    latency_ms: Latency
    ok: int
    errors: dict[str, int]
    timeouts: int
    no_responders: int
    failed: int


def outcome_fields(result: LoadResult) -> dict[str, Any]:
    """The Outcome fields of `result`, for the report that extends it."""
    return {
        "throughput_rps": round(result.throughput_rps, 1),
        "goodput_rps": round(result.ok / result.duration_s, 1) if result.duration_s else 0.0,
        "latency_ms": result.latency_ms().rounded(),
        "ok": result.ok,
        "errors": result.errors,
        "timeouts": result.timeouts,
        "no_responders": result.no_responders,
        "failed": result.failed,
    }
