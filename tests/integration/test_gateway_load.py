"""The local HTTP gateway under load: many callers at once, and the benchmark through it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from tests.support.commands import invoke
from tests.support.gateway import HttpStack, status_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("the gateway under load and the benchmark through it"),
]


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
