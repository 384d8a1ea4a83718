"""The local HTTP gateway when something goes wrong: a message the server would close the
connection over, a server paused with calls in flight, callers whose subjects differ only in
case, a user connection that closed or whose read loop died."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from devkit.gateway.app import create_app
from devkit.gateway.connections import UserConnections
from devkit.gateway.tokens import TokenBook
from tests.support.gateway import HttpStack, balance_status, pid_of, status_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("a paused server's windows, measured in seconds"),
]
InProcessClient = TestClient[web.Request, web.Application]


async def stream_status(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    """The status an event stream opens with; the stream is closed at once."""
    async with http.get(url, headers=headers) as response:
        return response.status


async def test_a_message_over_the_max_payload_with_its_headers_is_413_and_the_token_still_works(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}
    big_headers = {f"NatsH-Filler-{i}": "v" * 8000 for i in range(100)}
    oversized = [
        (client, b"x" * 1_048_576),  # fits alone; not with the gateway's deadline header
        ({**client, **big_headers}, b"x" * 300_000),
    ]
    for headers, body in oversized:
        status, response_headers, raw = await status_of(
            http, "POST", gateway.subjects("customer.balance"), headers=headers, data=body
        )
        assert status == 413, raw[:200]
        assert "max payload" in json.loads(raw)["message"]
        assert "max payload" in response_headers["X-Nats-Api-Gateway-Error"]
        assert await balance_status(http, gateway) == 200
    admin = {"Authorization": gateway.tokens["admin"]}
    entry = f"{gateway.url}/v1/kv/config/gateway.size"
    assert (await status_of(http, "PUT", entry, headers=admin, data=b"small"))[0] == 201
    status, _, raw = await status_of(
        http, "PUT", f"{entry}?previousRevision=1", headers=admin, data=b"x" * 1_048_576
    )
    assert status == 413, raw[:200]  # the compare-and-set header is counted too
    assert await balance_status(http, gateway, "admin") == 200
    async with http.get(f"{gateway.url}/healthz") as health:
        document = await health.json()
    assert health.status == 200
    assert document["connections"] == {"client": "connected", "admin": "connected"}


async def test_a_server_pause_never_turns_a_denial_into_an_allow(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    if gateway.env["STACK_MODE"] != "native":
        pytest.skip("pauses the nats-server process, which only the native stack runs here")
    client = {"Authorization": gateway.tokens["client"]}
    admin = {"Authorization": gateway.tokens["admin"]}
    forbidden_put = gateway.subjects("customer.balance.999")
    assert await balance_status(http, gateway) == 200  # the client's connection exists
    nats_pid = pid_of(gateway, "nats")
    async with http.get(gateway.subjects("paused.>"), headers=admin) as open_stream:
        assert open_stream.status == 200
        os.kill(nats_pid, signal.SIGSTOP)
        try:
            in_flight = asyncio.ensure_future(
                status_of(http, "PUT", gateway.subjects("paused.x"), headers=admin, data=b"1")
            )
            await asyncio.sleep(0.5)
            denied_put = asyncio.ensure_future(
                status_of(http, "PUT", forbidden_put, headers=client, data=b"1")
            )
            denied_stream = asyncio.ensure_future(
                stream_status(http, gateway.subjects(">"), client)
            )
            await asyncio.sleep(3)
        finally:
            os.kill(nats_pid, signal.SIGCONT)
        assert (await in_flight)[0] in (200, 504)
        assert (await denied_put)[0] in (403, 503, 504)
        assert await denied_stream in (403, 503, 504)
    for _ in range(5):  # afterwards, exactly as before the pause
        status, _, raw = await status_of(http, "PUT", forbidden_put, headers=client, data=b"1")
        assert status == 403, raw
        assert await stream_status(http, gateway.subjects(">"), client) == 403
        assert await balance_status(http, gateway) == 200


async def test_one_callers_denial_never_fails_another_callers_subject(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}

    async def worker(subject: str, calls: int) -> list[int]:
        statuses = []
        for i in range(calls):
            body = json.dumps({"client_id": str(i % 100 + 1)}).encode()
            status, _, _ = await status_of(
                http, "POST", gateway.subjects(subject), headers=client, data=body
            )
            statuses.append(status)
        return statuses

    valid = [worker("customer.balance", 100) for _ in range(10)]
    invalid = [worker("CUSTOMER.BALANCE", 50) for _ in range(10)]  # NATS subjects keep case
    results = await asyncio.gather(*valid, *invalid)
    valid_statuses = [s for statuses in results[:10] for s in statuses]
    invalid_statuses = [s for statuses in results[10:] for s in statuses]
    assert valid_statuses.count(200) == 1000, {s: valid_statuses.count(s) for s in valid_statuses}
    assert set(invalid_statuses) == {403}


@pytest.fixture
async def in_process(gateway: HttpStack) -> AsyncIterator[tuple[InProcessClient, UserConnections]]:
    """The gateway's app in this process, on the stack's server, so a test can reach into the
    user connections it holds."""
    connections = UserConnections(gateway.nats_url)
    app = create_app(connections, TokenBook(Path(gateway.env["STACK_DIR"])))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client, connections


async def test_a_closed_or_dead_user_connection_is_replaced_and_health_says_so(
    gateway: HttpStack, in_process: tuple[InProcessClient, UserConnections]
) -> None:
    test_client, connections = in_process
    client = {"Authorization": gateway.tokens["client"]}
    body = b'{"client_id":"1"}'

    async def balance() -> int:
        async with test_client.post(
            "/v1/nats/subjects/customer.balance", headers=client, data=body
        ) as response:
            return response.status

    assert await balance() == 200
    (holder,) = list(connections._open)
    first = connections._open[holder]
    await first.nc.close()  # as the server closing it would
    assert await balance() == 200
    second = connections._open[holder]
    assert second is not first
    reading = second.nc._reading_task
    assert reading is not None
    reading.cancel()  # nats-py's read loop dies; the client still says "connected"
    await asyncio.sleep(0.1)
    async with test_client.get("/healthz") as health:
        assert health.status == 503
        assert (await health.json())["connections"] == {"client": "read loop stopped"}
    assert await balance() == 200
    async with test_client.get("/healthz") as health:
        assert health.status == 200
        assert (await health.json())["connections"] == {"client": "connected"}
