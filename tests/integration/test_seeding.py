"""Seeding happens exactly once per table, and again when the table is recreated."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

from service import names
from tests.support.replicas import ServiceFactory
from tests.support.servers import Dynamo

pytestmark = pytest.mark.integration


async def marker(nc: Client, table: str) -> dict[str, object]:
    kv = await nc.jetstream().key_value(names.KV_BUCKET)
    entry = await kv.get(names.seed_key(table))
    document: dict[str, object] = json.loads(entry.value or b"")
    return document


async def test_three_replicas_started_together_seed_once(
    start_service: ServiceFactory, nc: Client, dynamo: Dynamo, table: str
) -> None:
    replicas = [start_service(wait=False) for _ in range(3)]
    for replica in replicas:
        replica.wait_ready()

    seeders = [r for r in replicas if r.events_named("seed.started")]
    assert len(seeders) == 1, [r.log_path.read_text() for r in replicas]
    assert len(seeders[0].events_named("seed.done")) == 1
    others = [r for r in replicas if r is not seeders[0]]
    assert all(r.events_named("seed.waiting") or r.events_named("seed.skipped") for r in others)

    assert dynamo.count(table) == 1000
    recorded = await marker(nc, table)
    assert recorded["state"] == "done"
    assert recorded["rows"] == 1000
    assert recorded["by"] == seeders[0].events_named("seed.done")[0]["service_id"]


async def test_a_recreated_table_is_seeded_again(
    start_service: ServiceFactory, nc: Client, dynamo: Dynamo, table: str
) -> None:
    first = start_service()
    assert first.events_named("seed.done")
    assert first.terminate() == 0
    before = await marker(nc, table)

    dynamo.client().delete_table(TableName=table)
    dynamo.client().get_waiter("table_not_exists").wait(TableName=table)
    dynamo.create_table(table)
    assert dynamo.count(table) == 0

    second = start_service()
    [started] = second.events_named("seed.started")
    assert started["reason"] == "recreated table"
    assert dynamo.count(table) == 1000
    after = await marker(nc, table)
    assert after["state"] == "done"
    assert after["table_created"] != before["table_created"]


async def test_a_restart_with_the_same_table_does_not_seed(
    start_service: ServiceFactory, dynamo: Dynamo, table: str
) -> None:
    first = start_service()
    assert first.terminate() == 0
    dynamo.client().put_item(
        TableName=table, Item={"id": {"S": "1"}, "client_balance": {"N": "4242"}}
    )
    second = start_service()
    assert second.events_named("seed.skipped")
    assert not second.events_named("seed.started")
    item = dynamo.client().get_item(TableName=table, Key={"id": {"S": "1"}})["Item"]
    assert item["client_balance"]["N"] == "4242"


async def test_seed_rows_0_never_writes_into_a_table_with_real_data(
    start_service: ServiceFactory, dynamo: Dynamo, table: str, nc: Client
) -> None:
    """What the cloud manifest's comment promises for a table that holds real customers."""
    dynamo.client().put_item(
        TableName=table, Item={"id": {"S": "real-1"}, "client_balance": {"N": "77"}}
    )
    service = start_service(SEED_ROWS="0")
    assert service.events_named("seed.disabled")
    assert dynamo.count(table) == 1
    reply = await nc.request(names.REQUEST_SUBJECT, b'{"client_id":"real-1"}', timeout=5)
    assert reply.data == b'{"balance":77}'
    with pytest.raises(KeyNotFoundError):
        await (await nc.jetstream().key_value(names.KV_BUCKET)).get(names.seed_key(table))
