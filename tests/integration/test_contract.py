"""The request contract of `customer.balance`, against a real service, NATS and DynamoDB."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from service import names
from service.protocol import decode_reply
from tests.support.messages import request_payload
from tests.support.replicas import RunningService, ServiceFactory
from tests.support.servers import Dynamo

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(running_service: RunningService) -> AsyncIterator[Client]:
    connection = await nats.connect(running_service.nats.url)
    yield connection
    await connection.close()


async def ask(nc: Client, payload: bytes) -> Msg:
    return await nc.request(names.REQUEST_SUBJECT, payload, timeout=5)


def stored_balance(dynamo: Dynamo, table: str, client_id: str) -> int:
    item = dynamo.client().get_item(TableName=table, Key={"id": {"S": client_id}})["Item"]
    return int(item["client_balance"]["N"])


def error_of(msg: Msg) -> tuple[int, str, dict[str, object]]:
    reply = decode_reply(msg.data, msg.headers)
    assert reply.error_code is not None, f"not an error reply: {msg.data!r}"
    return reply.error_code, reply.error_message or "", json.loads(msg.data)


async def test_replies_exactly_the_stored_balance(
    client: Client, running_service: RunningService, dynamo: Dynamo
) -> None:
    msg = await ask(client, request_payload("678"))
    expected = stored_balance(dynamo, running_service.table, "678")
    assert msg.data == f'{{"balance":{expected}}}'.encode()
    assert not msg.headers
    assert 100 <= expected <= 9999


async def test_accepts_an_integer_client_id_and_ignores_unknown_fields(
    client: Client, running_service: RunningService, dynamo: Dynamo
) -> None:
    msg = await ask(client, b'{"client_id": 42, "extra": [1, 2], "note": "hi"}')
    assert json.loads(msg.data) == {"balance": stored_balance(dynamo, running_service.table, "42")}


async def test_replies_404_for_an_unknown_customer(client: Client) -> None:
    code, description, body = error_of(await ask(client, request_payload("999999")))
    assert code == 404
    assert "999999" in description
    assert body == {"error": {"code": 404, "message": description}}


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'["678"]', "must be a JSON object"),
        (b'"678"', "must be a JSON object"),
        (b"{}", "client_id is missing"),
        (b'{"client_id": null}', "client_id must be a string"),
        (b'{"client_id": true}', "client_id must be a string"),
        (b'{"client_id": ""}', "1-64 characters"),
        (b'{"client_id": "6.78"}', "1-64 characters"),
        (b'{"client_id": "a b"}', "1-64 characters"),
        (b'{"client_id": "*"}', "1-64 characters"),
        (json.dumps({"client_id": "x" * 65}).encode(), "1-64 characters"),
    ],
)
async def test_replies_400_naming_the_problem(client: Client, payload: bytes, says: str) -> None:
    code, description, body = error_of(await ask(client, payload))
    assert code == 400
    assert says in description
    assert body == {"error": {"code": 400, "message": description}}


async def test_replies_500_without_internal_detail_for_a_corrupt_balance(
    client: Client, running_service: RunningService, dynamo: Dynamo
) -> None:
    dynamo.client().put_item(
        TableName=running_service.table,
        Item={"id": {"S": "corrupt"}, "client_balance": {"N": "12.5"}},
    )
    code, description, body = error_of(await ask(client, request_payload("corrupt")))
    assert code == 500
    assert description == "stored balance is not an integer"
    assert "Traceback" not in json.dumps(body)


async def test_replies_503_when_the_table_is_gone(
    start_service: ServiceFactory, nc: Client, dynamo: Dynamo, table: str
) -> None:
    service = start_service()
    dynamo.client().delete_table(TableName=table)
    code, description, _ = error_of(await ask(nc, request_payload("1")))
    assert code == 503
    assert table not in description  # the deployment's detail goes to the log, not the caller
    assert description == "the balance store is unavailable; try again"
    assert service.events_named("dynamodb.table_missing")[0]["table"] == table


async def test_replies_503_when_the_event_stream_does_not_acknowledge(
    start_service: ServiceFactory, nc: Client
) -> None:
    start_service()
    await nc.jetstream().delete_stream(names.STREAM_NAME)
    code, description, _ = error_of(await ask(nc, request_payload("1")))
    assert code == 503
    assert "event stream" in description
