"""`$SRV` discovery: ADR-32 schemas, truthful STATS, and the real NATS CLI seeing the service."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from nats.aio.client import Client

from service import __version__, names
from service.protocol import decode_reply
from tests.support.messages import request_payload
from tests.support.replicas import ServiceFactory
from tests.support.servers import NatsServer

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "micro-v1"


def schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{kind}_response.json").read_text())
    return loaded


async def control(nc: Client, subject: str) -> dict[str, Any]:
    msg = await nc.request(subject, b"", timeout=2)
    document: dict[str, Any] = json.loads(msg.data)
    return document


@pytest.mark.parametrize("kind", ["ping", "info", "stats"])
async def test_control_responses_match_the_adr32_schemas(
    start_service: ServiceFactory, nc: Client, kind: str
) -> None:
    start_service()
    for subject in (f"$SRV.{kind.upper()}", f"$SRV.{kind.upper()}.{names.SERVICE_NAME}"):
        document = await control(nc, subject)
        jsonschema.validate(document, schema(kind))
        assert document["name"] == names.SERVICE_NAME
        assert document["version"] == __version__
    # The per-instance subject answers too.
    instance = document["id"]
    specific = await control(nc, f"$SRV.{kind.upper()}.{names.SERVICE_NAME}.{instance}")
    assert specific["id"] == instance


async def test_info_describes_the_balance_endpoint(
    start_service: ServiceFactory, nc: Client
) -> None:
    start_service()
    info = await control(nc, "$SRV.INFO.customer")
    assert info["description"]
    [endpoint] = info["endpoints"]
    assert (endpoint["name"], endpoint["subject"], endpoint["queue_group"]) == (
        names.ENDPOINT_NAME,
        names.REQUEST_SUBJECT,
        names.QUEUE_GROUP,
    )


async def test_stats_count_every_request_and_error_sent(
    start_service: ServiceFactory, nc: Client
) -> None:
    start_service()
    good = [request_payload(str(i)) for i in range(1, 41)]
    missing = [request_payload(f"nobody-{i}") for i in range(7)]
    bad = [b"nope"] * 5
    replies = await asyncio.gather(
        *(nc.request(names.REQUEST_SUBJECT, p, timeout=5) for p in good + missing + bad)
    )
    codes = [decode_reply(r.data, r.headers).error_code for r in replies]
    assert codes.count(None) == 40
    assert codes.count(404) == 7
    assert codes.count(400) == 5

    stats = await control(nc, "$SRV.STATS.customer")
    [endpoint] = stats["endpoints"]
    assert endpoint["num_requests"] == 52
    assert endpoint["num_errors"] == 12
    assert endpoint["last_error"].split(":")[0] in {"400", "404"}
    assert endpoint["processing_time"] > 0
    assert endpoint["average_processing_time"] == endpoint["processing_time"] // 52


async def test_stats_never_show_a_callers_client_id(
    start_service: ServiceFactory, nc: Client
) -> None:
    """Anyone who may subscribe to $SRV reads STATS; one caller's ids are not theirs to see."""
    start_service()
    reply = await nc.request(names.REQUEST_SUBJECT, request_payload("secret-42"), timeout=5)
    assert decode_reply(reply.data, reply.headers).error_code == 404
    assert b"secret-42" in reply.data  # the caller itself is told which id was missing
    stats = await control(nc, "$SRV.STATS.customer")
    [endpoint] = stats["endpoints"]
    assert endpoint["last_error"] == "404:no customer with that client_id"


def test_the_nats_cli_lists_and_describes_the_service(
    start_service: ServiceFactory, nats_server: NatsServer, nats_cli_path: str
) -> None:
    service = start_service()
    base = [nats_cli_path, "--no-context", "-s", nats_server.url]
    listed = subprocess.run(
        [*base, "micro", "ls", "--json"], capture_output=True, text=True, timeout=30, check=True
    )
    names_listed = [entry["name"] for entry in json.loads(listed.stdout)]
    assert names_listed == [names.SERVICE_NAME], listed.stdout
    reply = subprocess.run(
        [*base, "req", names.REQUEST_SUBJECT, '{"client_id":"678"}', "--raw"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert set(json.loads(reply.stdout)) == {"balance"}
    assert service.process.poll() is None
