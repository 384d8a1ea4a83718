"""The local HTTP gateway, continued: KV entries, many callers at once, hostile input without
a 5xx, and the benchmark through it."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.commands import invoke
from tests.support.gateway import HttpStack, status_of

pytestmark = pytest.mark.integration


async def test_kv_entries_as_the_cloud_gateway_keeps_them(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    admin = {"Authorization": gateway.tokens["admin"]}
    entry = f"{gateway.url}/v1/kv/config/gateway.test"
    status, _, raw = await status_of(http, "POST", entry, headers=admin, data=b"one")
    assert status == 201
    first = json.loads(raw)
    assert (await status_of(http, "POST", entry, headers=admin, data=b"again"))[0] == 409
    status, headers, raw = await status_of(http, "GET", entry, headers=admin)
    assert (status, raw, headers["X-Nats-Kv-Revision"]) == (200, b"one", str(first))
    stale = f"{entry}?previousRevision={first + 100}"
    assert (await status_of(http, "PUT", stale, headers=admin, data=b"two"))[0] == 409
    status, _, raw = await status_of(
        http, "PUT", f"{entry}?previousRevision={first}", headers=admin, data=b"two"
    )
    assert status == 201
    status, _, raw = await status_of(
        http, "GET", entry, headers={**admin, "Accept": "application/json"}
    )
    assert base64.b64decode(json.loads(raw)["value"]) == b"two"
    assert (await status_of(http, "DELETE", entry, headers=admin))[0] == 200
    assert (await status_of(http, "GET", entry, headers=admin))[0] == 404
    missing_bucket = f"{gateway.url}/v1/kv/no-such-bucket/key"
    assert (await status_of(http, "GET", missing_bucket, headers=admin))[0] == 404


async def test_concurrent_requests_all_answered(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}

    async def one(i: int) -> int:
        body = json.dumps({"client_id": str(i % 1000 + 1)}).encode()
        status, _, raw = await status_of(
            http, "POST", gateway.subjects("customer.balance"), headers=client, data=body
        )
        assert set(json.loads(raw)) == {"balance"}
        return status

    assert set(await asyncio.gather(*(one(i) for i in range(300)))) == {200}


HOSTILE = [
    ("POST", "a..b"),
    ("POST", ">"),
    ("PUT", "*"),
    ("POST", "a%20b"),
    ("POST", "caf%C3%A9"),
    ("POST", "a*b"),
    ("POST", "customer.balance?timeout=abc"),
    ("POST", "customer.balance?timeout=0"),
    ("POST", "customer.balance?timeout=99999999999999999999"),
    ("GET", "customer.balance.1?limit=0"),
    ("GET", "customer.balance.1?queue=a%20b"),
    ("PUT", "customer.balance?reply=a..b"),
    ("DELETE", "customer.balance"),
    ("PATCH", "customer.balance"),
]


async def test_hostile_input_is_refused_without_a_5xx(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}
    for method, tail in HOSTILE:
        status, headers, raw = await status_of(
            http, method, gateway.subjects(tail), headers=client, data=b"{}"
        )
        assert 400 <= status < 500, (method, tail, status, raw)
        assert json.loads(raw)["message"], (method, tail)
        assert "X-Nats-Api-Gateway-Error" in headers
        assert b"Traceback" not in raw
    for method, path in (("DELETE", "/v1/nats/subjects/x"), ("GET", "/nothing/here")):
        status, _, raw = await status_of(http, method, gateway.url + path, headers=client)
        assert status in (404, 405)
        assert json.loads(raw)["message"]
    weird_kv = [f"{gateway.url}/v1/kv/bad%20bucket/k", f"{gateway.url}/v1/kv/config/..x"]
    for url in weird_kv:
        assert (await status_of(http, "GET", url, headers=client))[0] == 400
    # the gateway still serves afterwards
    ok = await status_of(
        http,
        "POST",
        gateway.subjects("customer.balance"),
        headers=client,
        data=b'{"client_id":"1"}',
    )
    assert ok[0] == 200


def test_the_benchmark_drives_the_same_load_through_the_gateway(
    gateway: HttpStack, tmp_path: Path
) -> None:
    result_path = tmp_path / "http.json"
    benched = invoke(
        gateway.env, "bench", "--http", "-n", "300", "-c", "20", "--json", str(result_path)
    )
    assert benched.returncode == 0, benched.stdout + benched.stderr
    document = json.loads(result_path.read_text())
    assert (document["transport"], document["ok"], document["timeouts"]) == ("http", 300, 0)
    assert document["service_stats"]["requests"] >= 300  # the replicas' own counters
    assert document["gateway_cpu_us_per_request"] > 0
    assert "HTTP gateway CPU per request" in benched.stdout
