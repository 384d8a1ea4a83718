"""The caller chooses the reply subject, and the service publishes there with its own
permissions: it must only ever answer into an inbox, and no user may read another's inbox."""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from devkit import platform_names
from service import names, protocol
from service.connection import open_connection, own_inboxes
from service.discovery import StatsResponse
from service.protocol import NOT_AN_INBOX
from tests.integration.conftest import SecureNats
from tests.support.messages import request_payload
from tests.support.replicas import ServiceProcess
from tests.support.servers import Dynamo, NatsServer
from tests.support.users import connect_user

pytestmark = pytest.mark.integration


async def errors_counted(admin: Client) -> tuple[int, str | None]:
    reply = await admin.request(f"$SRV.STATS.{names.SERVICE_NAME}", b"", timeout=5)
    (endpoint,) = StatsResponse.model_validate_json(reply.data).endpoints
    return endpoint.num_errors, endpoint.last_error


async def test_a_reply_subject_outside_an_inbox_writes_nothing(
    secure_nats: SecureNats, secure_service: ServiceProcess, dynamo: Dynamo, table: str
) -> None:
    """The seed marker, the stream and the balances are as before; each attempt is an error in
    `$SRV.STATS`; nothing is published to the subject named."""
    admin = await connect_user(
        secure_nats.url, secure_nats.material.creds[platform_names.ADMIN_USER]
    )
    client = await connect_user(secure_nats.url, secure_nats.material.client_creds)
    try:
        kv = await admin.jetstream().key_value(names.KV_BUCKET)
        marker = await kv.get(names.seed_key(table))
        js = admin.jetstream()
        events_before = (await js.stream_info(names.STREAM_NAME)).state.messages
        balances_before = _balances(dynamo, table, ["678", "999"])
        errors_before, _ = await errors_counted(admin)
        service_inbox = f"{names.private_inbox_prefix(platform_names.SERVICE_USER)}.x.y"
        hostile = [
            f"$KV.{names.KV_BUCKET}.{names.seed_key(table)}",  # the seed marker
            f"{names.EVENT_SUBJECT_PREFIX}.999",  # a false event for another customer
            service_inbox,  # the service's own acks
            "_INBOXES.x",
            "elsewhere",
        ]
        published_there: list[Msg] = []

        async def landed(msg: Msg) -> None:
            published_there.append(msg)

        for subject in hostile:
            await admin.subscribe(subject, cb=landed)
        await admin.flush()
        for subject in hostile:
            await client.publish(names.REQUEST_SUBJECT, request_payload("678"), reply=subject)
        # One honest request after them, on the same connection: answered, and by then the
        # hostile ones (delivered first) were decided.
        honest = await client.request(names.REQUEST_SUBJECT, request_payload("678"), timeout=5)
        assert set(json.loads(honest.data)) == {"balance"}
        await asyncio.sleep(0.3)

        assert published_there == []
        assert (await kv.get(names.seed_key(table))).revision == marker.revision
        assert (await js.stream_info(names.STREAM_NAME)).state.messages == events_before + 1
        assert _balances(dynamo, table, ["678", "999"]) == balances_before
        errors_after, last_error = await errors_counted(admin)
        assert errors_after - errors_before == len(hostile)
        assert last_error is not None
        assert NOT_AN_INBOX in last_error
    finally:
        await client.close()
        await admin.close()


async def test_discovery_never_answers_outside_an_inbox(
    secure_nats: SecureNats, secure_service: ServiceProcess, table: str
) -> None:
    """`$SRV.PING` with the seed marker as its reply would write a PING document over it."""
    admin = await connect_user(
        secure_nats.url, secure_nats.material.creds[platform_names.ADMIN_USER]
    )
    client = await connect_user(secure_nats.url, secure_nats.material.client_creds)
    try:
        kv = await admin.jetstream().key_value(names.KV_BUCKET)
        marker = await kv.get(names.seed_key(table))
        for verb in ("PING", "INFO", "STATS"):
            await client.publish(
                f"$SRV.{verb}.{names.SERVICE_NAME}",
                b"",
                reply=f"$KV.{names.KV_BUCKET}.{names.seed_key(table)}",
            )
        found = await client.request(f"$SRV.PING.{names.SERVICE_NAME}", b"", timeout=5)
        assert json.loads(found.data)["name"] == names.SERVICE_NAME
        assert (await kv.get(names.seed_key(table))).revision == marker.revision
    finally:
        await client.close()
        await admin.close()


@pytest.mark.parametrize(
    "user", [platform_names.CLIENT_USER, platform_names.READER_USER, platform_names.SERVICE_USER]
)
async def test_no_user_may_read_the_shared_or_anothers_inbox(
    secure_nats: SecureNats, user: str
) -> None:
    errors: list[str] = []

    async def remember(error: Exception) -> None:
        errors.append(str(error))

    nc = await connect_user(secure_nats.url, secure_nats.material.creds[user], error_cb=remember)
    try:
        others = [
            u
            for u in (
                platform_names.CLIENT_USER,
                platform_names.READER_USER,
                platform_names.SERVICE_USER,
            )
            if u != user
        ]
        refused = ["_INBOX.>", ">", *(f"{names.private_inbox_prefix(u)}.>" for u in others)]
        for subject in refused:
            await nc.subscribe(subject)
        own = await nc.subscribe(f"{names.private_inbox_prefix(user)}.>")
        await nc.flush()
        await nc.flush()
        await asyncio.sleep(0.2)
        denied = {e.split('"')[1] for e in errors if "permissions violation" in e}
        assert denied == {s.lower() for s in refused}
        assert own is not None
    finally:
        await nc.close()


def _balances(dynamo: Dynamo, table: str, ids: list[str]) -> dict[str, object]:
    client = dynamo.client()
    return {
        i: client.get_item(TableName=table, Key={names.DDB_KEY_ATTRIBUTE: {"S": i}}).get("Item")
        for i in ids
    }


async def test_a_shared_inbox_connection_knows_its_own_inboxes(nats_server: NatsServer) -> None:
    """Without a private prefix (an unsecured server, a user made before them), the service
    refuses replies into the inboxes it subscribes to itself: its acks and its replies."""
    nc = await open_connection(servers=[nats_server.url])
    try:
        acks = nc.new_inbox() + "."
        await nc.subscribe(acks + "*")
        await nc.request("$JS.API.INFO", b"", timeout=5)  # nats-py's reply inbox, made on first use
        own = own_inboxes(nc)
        assert acks in own
        assert len(own) == 2
        assert protocol.reply_problem(acks + "17", own) == protocol.NOT_AN_INBOX
        assert protocol.reply_problem("_INBOX.someone-else.1", own) is None
    finally:
        await nc.close()
