"""The local HTTP gateway's event streams and users: a reader that falls behind, a user revoked
with a stream open, and a user whose replies must arrive on its own inbox prefix."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
import nats
import pytest
from nats.aio.client import Client, RawCredentials
from nats.aio.msg import Msg

from devkit.controlplane.models import AccountCreateRequest
from service.connection import flush_in_order
from tests.support.gateway import (
    HttpStack,
    pid_of,
    rss_bytes,
    status_of,
    twin_api,
    twin_user,
    until_the_gateway_reaches,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("the gateway's memory under a slow reader"),
]


async def read_until(stream: aiohttp.StreamReader, marker: bytes, seconds: float) -> bytes:
    """What the stream sends until `marker` (and its event) or its end, within `seconds`."""
    seen = b""
    async with asyncio.timeout(seconds):
        while marker not in seen or not seen.endswith(b"\n\n"):
            chunk = await stream.readany()
            if not chunk:
                break
            seen += chunk
    return seen


def closed_reason(text: bytes) -> str:
    """The reason of the stream's `closed` event."""
    _, _, after = text.partition(b"event: closed\ndata: ")
    reason: str = json.loads(after.split(b"\n", 1)[0])["reason"]
    return reason


async def until_the_reader_gets_one(publisher: Client, reader: asyncio.StreamReader) -> None:
    """Publishes on `slow.probe` until the reader gets a message: the gateway's subscription
    reached the publisher's node (on the cluster it crosses the routes after the stream opens,
    and what is published before is dropped, so the reader would never fall behind)."""
    seen = b""
    async with asyncio.timeout(10):
        while b"event: msg" not in seen:
            await publisher.publish("slow.probe", b"probe")
            await flush_in_order(publisher)
            with contextlib.suppress(TimeoutError):
                seen += await asyncio.wait_for(reader.read(1 << 16), 0.2)


async def test_a_reader_that_falls_behind_is_cut_off_and_the_gateway_stays_small(
    gateway: HttpStack,
) -> None:
    gateway_pid = pid_of(gateway, "gateway")
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET /v1/nats/subjects/slow.%3E HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {gateway.tokens['admin']}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    publisher = await nats.connect(
        gateway.nats_url, user_credentials=str(gateway.creds / "admin.creds")
    )
    try:
        await until_the_reader_gets_one(publisher, reader)
        idle = rss_bytes(gateway_pid)
        for _ in range(200):  # 100 MB for a reader that reads nothing meanwhile
            await publisher.publish("slow.x", b"x" * 500_000)
        await flush_in_order(publisher, seconds=30)
    finally:
        await publisher.close()
    await asyncio.sleep(1.0)
    grown = rss_bytes(gateway_pid) - idle
    assert grown < 40 * 1024 * 1024, f"the gateway grew by {grown / 2**20:.1f} MB"
    text = b""
    async with asyncio.timeout(30):  # the reader catches up with what was sent before the cut
        while chunk := await reader.read(1 << 20):
            text += chunk
    writer.close()
    assert b"event: closed" in text
    assert "fell behind" in closed_reason(text)


async def test_a_revoked_users_open_stream_ends_with_a_closed_event(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    api = twin_api(gateway)
    (team,) = api.teams()
    (system,) = api.systems(team.id)
    account = api.create_account(system.id, AccountCreateRequest(name="REVOKED"))
    try:
        user = twin_user(api, account.id, "listener", pub=[], sub=["revoked.>", "_INBOX.>"])
        token = api.gateway_token(user.id)
        url = f"{gateway.subjects('revoked.>')}?idleHeartbeat=200"
        async with http.get(url, headers={"Authorization": token}) as stream:
            assert stream.status == 200
            assert b": heartbeat" in await read_until(stream.content, b": heartbeat", 5)
            api.delete_user(user.id)
            text = await read_until(stream.content, b"event: closed", 10)
        assert b"event: closed" in text
        reason = closed_reason(text)  # whichever the stream noticed first
        assert "token was revoked" in reason or "server closed the user's connection" in reason
        status, _, raw = await status_of(http, "GET", url, headers={"Authorization": token})
        assert status == 401, raw
    finally:
        api.delete_account(account.id)
        api.close()


async def test_a_user_limited_to_its_own_inbox_prefix_gets_its_replies(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    api = twin_api(gateway)
    (team,) = api.teams()
    (system,) = api.systems(team.id)
    account = api.create_account(system.id, AccountCreateRequest(name="INBOXES"))
    try:
        asker = twin_user(api, account.id, "asker", pub=["ask.>"], sub=["_INBOX_asker.>"])
        echo = twin_user(api, account.id, "echo", pub=["_INBOX_asker.>"], sub=["ask.>"])
        responder = await nats.connect(
            gateway.nats_url, user_credentials=RawCredentials(api.creds(echo.id))
        )
        try:

            async def answer(msg: Msg) -> None:
                await responder.publish(msg.reply, b"answered on " + msg.reply.encode())

            await responder.subscribe("ask.me", cb=answer)
            await flush_in_order(responder)
            token = api.gateway_token(asker.id)
            await until_the_gateway_reaches(http, gateway, "ask.me", token)
            headers = {"Authorization": token}
            status, _, raw = await status_of(
                http, "POST", gateway.subjects("ask.me"), headers=headers
            )
            assert status == 200, raw
            assert raw.startswith(b"answered on _INBOX_asker.")
            other = gateway.subjects("_INBOX.>")  # not its prefix: the server refuses it
            status, _, raw = await status_of(http, "GET", other, headers=headers)
            assert status == 403, raw
        finally:
            await responder.close()
    finally:
        api.delete_account(account.id)
        api.close()
