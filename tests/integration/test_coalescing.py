"""Coalesced reads answer exactly what single GetItems would, against the real emulator."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from nats.aio.client import Client

from service import names
from service.protocol import decode_reply
from tests.support.messages import request_payload
from tests.support.replicas import ServiceFactory
from tests.support.servers import Dynamo

pytestmark = pytest.mark.integration


def expected_replies(
    dynamo: Dynamo, table: str, ids: list[str]
) -> dict[str, tuple[int | None, bytes]]:
    client = dynamo.client()
    expected: dict[str, tuple[int | None, bytes]] = {}
    for client_id in set(ids):
        item = client.get_item(TableName=table, Key={"id": {"S": client_id}}).get("Item")
        if item is None:
            expected[client_id] = (404, b"")
        else:
            expected[client_id] = (None, f'{{"balance":{item["client_balance"]["N"]}}}'.encode())
    return expected


@pytest.mark.parametrize("batch_max", ["100", "1"])
async def test_500_concurrent_requests_answer_as_single_getitems(
    start_service: ServiceFactory, nc: Client, dynamo: Dynamo, table: str, batch_max: str
) -> None:
    start_service(DDB_BATCH_MAX=batch_max)
    rng = random.Random(7)
    ids = [str(rng.randint(1, 1000)) for _ in range(480)] + [f"nobody-{i}" for i in range(20)]
    rng.shuffle(ids)
    replies = await asyncio.gather(
        *(nc.request(names.REQUEST_SUBJECT, request_payload(i), timeout=10) for i in ids)
    )
    expected = expected_replies(dynamo, table, ids)
    for client_id, reply in zip(ids, replies, strict=True):
        code = decode_reply(reply.data, reply.headers).error_code
        want_code, want_body = expected[client_id]
        assert code == want_code, client_id
        if want_code is None:
            assert reply.data == want_body, client_id

    stats = json.loads((await nc.request("$SRV.STATS.customer", b"", timeout=2)).data)
    [endpoint] = stats["endpoints"]
    assert endpoint["num_requests"] == 500
    assert endpoint["num_errors"] == 20
    data = endpoint["data"]
    if batch_max == "1":
        assert data["batches"] == 500
    else:
        assert data["batches"] < 100
        assert data["mean_batch_size"] > 5
        assert data["keys"] + data["joined_lookups"] == 500
