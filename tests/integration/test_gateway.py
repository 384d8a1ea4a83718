"""The local HTTP gateway, started by `invoke up`, driven by curl and by an HTTP client: the
original's curl with only host and token changed, every status code, headers both ways, the
server's permissions for each token's user, SSE, KV, and hostile input without a 5xx."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess

import aiohttp
import nats
import pytest
from nats.aio.msg import Msg

from service import names
from service.connection import flush_in_order
from tests.support.commands import invoke
from tests.support.gateway import PROBE, HttpStack, status_of, until_the_gateway_reaches

pytestmark = pytest.mark.integration


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_the_originals_curl_with_only_host_and_token_changed(gateway: HttpStack) -> None:
    result = curl(
        "-X", "POST", gateway.subjects("customer.balance"),
        "-H", "accept: text/plain",
        "-H", f"authorization: {gateway.tokens['client']}",
        "-H", "content-type: application/json",
        "-d", '{"client_id":"678"}',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"balance"}


def test_curl_gets_the_json_envelope(gateway: HttpStack) -> None:
    result = curl(
        "-X", "POST", gateway.subjects("customer.balance"),
        "-H", "Accept: application/json",
        "-H", f"Authorization: Bearer {gateway.tokens['client']}",
        "-d", '{"client_id":"678"}',
    )  # fmt: skip
    envelope = json.loads(result.stdout)
    assert set(envelope) == {"subject", "reply", "data", "header"}
    assert envelope["subject"].startswith(f"{names.private_inbox_prefix('client')}.")
    assert set(json.loads(base64.b64decode(envelope["data"]))) == {"balance"}


async def test_curl_reads_an_event_stream_while_requests_are_made(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    url = (
        f"{gateway.subjects('customer.balance.>')}?limit=3&authorization={gateway.tokens['admin']}"
    )
    reader = await asyncio.create_subprocess_exec(
        "curl", "-sSN", url, stdout=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(1.0)  # subscribed
    for client_id in ("1", "2", "3"):
        async with http.post(
            gateway.subjects("customer.balance"),
            data=json.dumps({"client_id": client_id}),
            headers={"Authorization": gateway.tokens["client"]},
        ) as response:
            assert response.status == 200
    output, _ = await asyncio.wait_for(reader.communicate(), 20)
    text = output.decode()
    assert text.count("event: msg") == 3
    assert text.rstrip().endswith("event: closed\ndata: {}")
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith('data: {"')]
    assert [e["subject"] for e in events] == [f"customer.balance.{i}" for i in ("1", "2", "3")]


async def test_tokens_are_required_and_each_is_one_user(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    url = gateway.subjects("customer.balance")
    body = b'{"client_id":"678"}'
    for headers in ({}, {"Authorization": "nhg_unknown"}):
        status, response_headers, raw = await status_of(
            http, "POST", url, data=body, headers=headers
        )
        assert status == 401
        assert json.loads(raw)["message"]
        assert response_headers["X-Nats-Api-Gateway-Error"]
    for value in (gateway.tokens["client"], f"Bearer {gateway.tokens['client']}"):
        status, _, _ = await status_of(
            http, "POST", url, data=body, headers={"Authorization": value}
        )
        assert status == 200


def test_a_token_for_no_such_user_is_a_usage_error(gateway: HttpStack) -> None:
    result = invoke(gateway.env, "token", "--user", "nobody")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("error: --user 'nobody' is no NATS user of the stack")
    assert "client" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_servers_permissions_apply_to_each_token(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}
    denied = [
        ("GET", gateway.subjects("customer.balance")),  # impersonate the service
        ("PUT", gateway.subjects("customer.balance.678")),  # forge an event
        ("GET", f"{gateway.url}/v1/kv/config/seed.anything"),  # read the service's bucket
    ]
    for method, url in denied * 25:  # a denial the gateway missed 1 time in 4 once: repeat
        status, headers, raw = await status_of(http, method, url, headers=client, data=b"x")
        assert status == 403, (method, url, raw)
        assert "permissions violation" in json.loads(raw)["message"]
        assert "permissions violation" in headers["X-Nats-Api-Gateway-Error"]


async def test_no_responders_timeouts_and_too_large(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    client = {"Authorization": gateway.tokens["client"]}
    admin = {"Authorization": gateway.tokens["admin"]}
    status, _, _ = await status_of(
        http, "POST", gateway.subjects("$SRV.PING.nobody"), headers=client
    )
    assert status == 503
    quiet = await nats.connect(
        gateway.nats_url, user_credentials=str(gateway.creds / "admin.creds")
    )
    try:

        async def answer_probes_only(msg: Msg) -> None:  # receives, never replies to requests
            if msg.data == PROBE:
                await quiet.publish(msg.reply, b"")

        await quiet.subscribe("quiet.subject", cb=answer_probes_only)
        await flush_in_order(quiet)
        await until_the_gateway_reaches(http, gateway, "quiet.subject", gateway.tokens["admin"])
        url = f"{gateway.subjects('quiet.subject')}?timeout=300"
        status, _, raw = await status_of(http, "POST", url, headers=admin)
        assert status == 504
        assert "300 ms" in json.loads(raw)["message"]
    finally:
        await quiet.close()
    for size in (2 * 1024 * 1024, 9 * 1024 * 1024):  # over the max payload; over what is read
        status, _, raw = await status_of(
            http, "POST", gateway.subjects("customer.balance"), headers=client, data=b"x" * size
        )
        assert status == 413
        assert json.loads(raw)["message"]


async def test_headers_both_ways_and_the_services_error_headers(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    admin = {"Authorization": gateway.tokens["admin"]}
    echo = await nats.connect(gateway.nats_url, user_credentials=str(gateway.creds / "admin.creds"))
    try:

        async def reply(msg: Msg) -> None:
            seen = (msg.headers or {}).get("Trace-Id", "")
            await echo.publish(msg.reply, b"pong", headers={"Seen": seen})

        await echo.subscribe("echo.headers", cb=reply)
        await flush_in_order(echo)
        await until_the_gateway_reaches(http, gateway, "echo.headers", gateway.tokens["admin"])
        status, headers, raw = await status_of(
            http,
            "POST",
            gateway.subjects("echo.headers"),
            headers={**admin, "NatsH-Trace-Id": "abc-123", "X-Not-Passed": "1"},
        )
        assert (status, raw, headers["NatsH-Seen"]) == (200, b"pong", "abc-123")
    finally:
        await echo.close()

    client = {"Authorization": gateway.tokens["client"]}
    missing = b'{"client_id":"nobody"}'
    status, headers, raw = await status_of(
        http, "POST", gateway.subjects("customer.balance"), headers=client, data=missing
    )
    assert status == 200  # the service's errors are replies, as on NATS
    assert headers["NatsH-Nats-Service-Error-Code"] == "404"
    assert json.loads(raw)["error"]["code"] == 404
    status, _, raw = await status_of(
        http,
        "POST",
        gateway.subjects("customer.balance"),
        headers={**client, "Accept": "application/json"},
        data=missing,
    )
    assert json.loads(raw)["header"]["Nats-Service-Error-Code"] == ["404"]
