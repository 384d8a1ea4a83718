"""The ADR-32 layer's bookkeeping: stats arithmetic and discovery documents."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from service.discovery import EndpointCounters, ServiceIdentity, StatsResponse, control_subjects
from service.micro import Endpoint, MicroService

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "micro-v1"


async def echo(data: bytes, deadline: float) -> bytes:
    return data


def test_stats_count_errors_and_keep_the_last_one() -> None:
    stats = EndpointCounters()
    stats.record(100, None)
    stats.record(300, "404:no customer")
    stats.record(200, None)
    assert (stats.num_requests, stats.num_errors, stats.last_error) == (3, 1, "404:no customer")
    assert stats.processing_time_ns == 600
    assert stats.average_processing_time_ns == 200


def test_average_of_nothing_is_zero() -> None:
    assert EndpointCounters().average_processing_time_ns == 0


def test_nine_control_subjects() -> None:
    subjects = control_subjects("customer", "ID1")
    assert len(subjects) == 9
    assert {"$SRV.PING", "$SRV.INFO.customer", "$SRV.STATS.customer.ID1"} <= set(subjects)


@pytest.mark.parametrize("kind", ["ping", "info", "stats"])
async def test_documents_validate_against_the_schemas(kind: str) -> None:
    service = MicroService(
        None,  # type: ignore[arg-type]  # documents need no connection
        ServiceIdentity("customer", "1.2.3", "desc", {"k": "v"}),
        Endpoint("balance", "customer.balance", "q", echo, {"format": "application/json"}),
        max_concurrency=1,
        budget_s=4.0,
    )
    document = json.loads(getattr(service, f"{kind}_response")().encode())
    schema = json.loads((SCHEMAS / f"{kind}_response.json").read_text())
    jsonschema.validate(document, schema)
    assert document["type"] == f"io.nats.micro.v1.{kind}_response"


def test_a_stats_document_reads_back_as_the_record_it_was() -> None:
    """The bench reads STATS with the same record the service writes it with."""
    service = MicroService(
        None,  # type: ignore[arg-type]  # documents need no connection
        ServiceIdentity("customer", "1.2.3", "desc"),
        Endpoint("balance", "customer.balance", "q", echo, stats_data=lambda: {"batches": 2}),
        max_concurrency=1,
        budget_s=4.0,
    )
    service.stats.record(1500, "503:slow")
    document = service.stats_response()
    assert StatsResponse.model_validate_json(document.encode()) == document
    [endpoint] = document.endpoints
    assert (endpoint.num_errors, endpoint.last_error, endpoint.data) == (
        1,
        "503:slow",
        {"batches": 2, "expired": 0, "concurrency_limit": 1},
    )
