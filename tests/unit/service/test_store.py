from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from service.faults import InternalError
from service.settings import Settings
from service.store import DynamoStore, chunks, client_credentials, is_transient, parse_balance

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetItem")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("InternalServerError"), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (client_error("ValidationException"), False),
        (client_error("ResourceNotFoundException"), False),
        (client_error("AccessDeniedException"), False),
    ],
)
def test_only_throttling_and_outages_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_integral_numbers_are_balances() -> None:
    assert parse_balance({"client_balance": {"N": "7120"}}) == 7120
    assert parse_balance({"client_balance": {"N": "7120.0"}}) == 7120


@pytest.mark.parametrize(
    "item", [{}, {"client_balance": {"S": "12"}}, {"client_balance": {"N": "1.5"}}]
)
def test_anything_else_is_a_data_fault(item: dict[str, object]) -> None:
    with pytest.raises(InternalError):
        parse_balance(item)  # type: ignore[arg-type]


def test_chunks_of_25() -> None:
    sizes = [len(c) for c in chunks(((str(i), i) for i in range(60)), 25)]
    assert sizes == [25, 25, 10]


def test_emulators_get_dummy_keys_real_aws_never() -> None:
    emulator = Settings(ddb_table="t12", aws_endpoint_url="http://127.0.0.1:8000")
    aws = Settings(ddb_table="t12", aws_region="eu-west-1")
    assert client_credentials(emulator, {}) == {
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    assert client_credentials(emulator, {"AWS_ACCESS_KEY_ID": "AKIA"}) == {}
    assert client_credentials(aws, {}) == {}


class BatchClient:
    """Answers BatchWriteItem, leaving the first item of every 3rd call unprocessed once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0
        self.items: dict[str, str] = {}

    async def batch_write_item(
        self, RequestItems: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        [(table, requests)] = RequestItems.items()
        unprocessed = requests[:1] if self.calls % 3 == 0 else []
        for request in requests[len(unprocessed) :]:
            item = request["PutRequest"]["Item"]
            self.items[item["id"]["S"]] = item["client_balance"]["N"]
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}


async def test_seeding_writes_lazily_with_bounded_parallelism_and_retries_unprocessed() -> None:
    client = BatchClient()
    consumed = 0

    def rows() -> Iterator[tuple[str, int]]:
        nonlocal consumed
        for i in range(1, 5001):
            consumed += 1
            # Never more than `parallel` batches of 25 ahead of what was written.
            assert consumed - len(client.items) <= 8 * 25 + 25
            yield str(i), i

    # A stand-in for the one aiobotocore call the seeding path makes.
    written = await DynamoStore(cast("DynamoDBClient", client), "t").write_balances(
        rows(), parallel=8
    )
    assert written == 5000
    assert len(client.items) == 5000
    assert client.max_in_flight <= 8
