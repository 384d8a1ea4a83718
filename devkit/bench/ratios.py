"""Each component's CPU as a multiple of its floor, and this service against its peer: the
arithmetic of issue #27's targets, apart from how a run is measured or printed."""

from __future__ import annotations

SERVICE_FLOOR_TARGET = 1.3
"""Issue #27: the service's CPU per answered request at most this multiple of its floor."""
GATEWAY_FLOOR_TARGET = 1.5
"""Issue #27: the gateway's CPU per request at most this multiple of its floor."""


def service_floor_cpu(nats_us: float | None, dynamodb_us: float | None) -> float | None:
    """The service floor per request: the responder's NATS work plus one item's DynamoDB share;
    None unless both were measured."""
    if nats_us is None or dynamodb_us is None:
        return None
    return round(nats_us + dynamodb_us, 1)


def ratio(measured: float | None, against: float | None) -> float | None:
    """`measured` as a multiple of `against` (the printed figures divided: a component's CPU
    against its floor, this service's throughput against its peer's); None without both."""
    if measured is None or not against:
        return None
    return round(measured / against, 2)
