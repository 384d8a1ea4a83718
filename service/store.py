"""Every DynamoDB call the service makes: one seam, one client, bounded retries.

The handler sees `get_balance`; seeding sees `write_balances`; bootstrap sees `ensure_table`.
Transient failures (throttling, 5xx, connection trouble) are retried with tenacity inside a
time budget and then surface as UnavailableError (503); a missing table is also a 503,
because the fix is in the deployment, not in the request.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from service import names
from service.faults import InternalError, UnavailableError
from service.retrying import bounded_retries
from service.settings import Settings

if TYPE_CHECKING:  # the stubs are a development dependency; the image does not need them
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef, WriteRequestTypeDef

Item: TypeAlias = "Mapping[str, AttributeValueTypeDef]"
"""One DynamoDB item in the low-level format: `{"id": {"S": "7"}, ...}`."""

_Result = TypeVar("_Result")

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = "the balance store is unavailable; try again"

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)
_TRANSIENT_TRANSPORT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
    asyncio.TimeoutError,
    OSError,
)


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(error: BaseException) -> bool:
    """Worth another try: throttling, a DynamoDB 5xx, or the connection failing."""
    return error_code(error) in TRANSIENT_CODES or isinstance(error, _TRANSIENT_TRANSPORT)


def client_credentials(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Emulators accept any key; give them one when none is configured, never for real AWS."""
    if settings.aws_endpoint_url and not environ.get("AWS_ACCESS_KEY_ID"):
        return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return {}


@asynccontextmanager
async def open_dynamodb(
    settings: Settings, *, pool_size: int | None = None
) -> AsyncIterator[DynamoDBClient]:
    """One aiobotocore client for the process; botocore's own retries are off (tenacity owns them)."""
    config = AioConfig(
        connect_timeout=settings.ddb_call_timeout_s,
        read_timeout=settings.ddb_call_timeout_s,
        retries={"max_attempts": 1, "mode": "standard"},
        # Reads are bounded by DDB_BATCHES_IN_FLIGHT and seeding writes 8 batches at a time.
        max_pool_connections=pool_size or max(settings.ddb_batches_in_flight, 8),
        # Every request is built here from validated ids; botocore's re-validation of each
        # key was a large share of a BatchGetItem call's client CPU (docs/benchmarks.md).
        parameter_validation=False,
    )
    session = get_session()
    async with session.create_client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
        **client_credentials(settings, os.environ),
    ) as client:
        yield client


def parse_balance(item: Item) -> int:
    """A stored balance must be an integral number; anything else is a data fault (500)."""
    raw = item.get(names.DDB_BALANCE_ATTRIBUTE, {}).get("N")
    try:
        value = Decimal(raw or "")
    except InvalidOperation:
        raise InternalError("stored balance is not a number") from None
    if value != value.to_integral_value():
        raise InternalError("stored balance is not an integer")
    return int(value)


def chunks(rows: Iterable[tuple[str, int]], size: int) -> Iterator[list[tuple[str, int]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class DynamoStore:
    """The balances table behind one aiobotocore client."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        retry_budget_s: float = 2.0,
        attempts: int = 5,
    ) -> None:
        self._client = client
        self.table = table
        self._retry_budget_s = retry_budget_s
        self._attempts = attempts

    async def _call(self, call: Callable[[], Awaitable[_Result]]) -> _Result:
        try:
            async for attempt in bounded_retries(
                attempts=self._attempts, budget_s=self._retry_budget_s, retryable=is_transient
            ):
                with attempt:
                    return await call()
        except ClientError as error:
            code = error_code(error)
            if code == "ResourceNotFoundException":
                # The table's name is the deployment's business, not the caller's: log it.
                log.warning("dynamodb.table_missing", extra={"table": self.table})
                raise UnavailableError(STORE_UNAVAILABLE) from error
            if code in TRANSIENT_CODES:
                raise UnavailableError("DynamoDB is throttling or failing; try again") from error
            raise
        except (*_TRANSIENT_TRANSPORT, BotoCoreError) as error:
            raise UnavailableError("DynamoDB is unreachable") from error
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def get_balance(self, client_id: str) -> int | None:
        """None when no such customer exists: never a silent 0."""
        response = await self._call(
            lambda: self._client.get_item(
                TableName=self.table,
                Key={names.DDB_KEY_ATTRIBUTE: {"S": client_id}},
                ProjectionExpression=names.DDB_BALANCE_ATTRIBUTE,
            )
        )
        item = response.get("Item")
        return None if item is None else parse_balance(item)

    async def batch_get_items(self, client_ids: list[str]) -> tuple[dict[str, Item], list[str]]:
        """Items by id for up to 100 distinct ids, and the ids DynamoDB left unprocessed."""
        response = await self._call(
            lambda: self._client.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [{names.DDB_KEY_ATTRIBUTE: {"S": key}} for key in client_ids],
                        "ProjectionExpression": f"{names.DDB_KEY_ATTRIBUTE}, {names.DDB_BALANCE_ATTRIBUTE}",
                    }
                }
            )
        )
        items: dict[str, Item] = {
            item[names.DDB_KEY_ATTRIBUTE]["S"]: item
            for item in response.get("Responses", {}).get(self.table, [])
        }
        unprocessed = response.get("UnprocessedKeys", {}).get(self.table)
        keys = [] if unprocessed is None else unprocessed["Keys"]
        return items, [key[names.DDB_KEY_ATTRIBUTE]["S"] for key in keys]

    async def table_created_at(self) -> datetime:
        """The creation time tells a recreated table from the one a seed marker describes."""
        response = await self._call(lambda: self._client.describe_table(TableName=self.table))
        return response["Table"]["CreationDateTime"]

    async def ensure_table(self) -> bool:
        """Create the table (on demand, key `id` S) unless it exists; True when created."""
        try:
            await self._call(
                lambda: self._client.create_table(
                    TableName=self.table,
                    AttributeDefinitions=[
                        {"AttributeName": names.DDB_KEY_ATTRIBUTE, "AttributeType": "S"}
                    ],
                    KeySchema=[{"AttributeName": names.DDB_KEY_ATTRIBUTE, "KeyType": "HASH"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            )
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":
                raise
            created = False
        else:
            created = True
        waiter = self._client.get_waiter("table_exists")
        await waiter.wait(
            TableName=self.table,
            WaiterConfig={"Delay": 0.2, "MaxAttempts": 150},  # type: ignore[typeddict-item]  # botocore sleeps a float
        )
        return created

    async def write_batch(self, rows: list[tuple[str, int]]) -> None:
        """One BatchWriteItem of at most 25 rows, resending UnprocessedItems with backoff."""
        pending: list[WriteRequestTypeDef] = [
            {
                "PutRequest": {
                    "Item": {
                        names.DDB_KEY_ATTRIBUTE: {"S": client_id},
                        names.DDB_BALANCE_ATTRIBUTE: {"N": str(balance)},
                    }
                }
            }
            for client_id, balance in rows
        ]
        delay = 0.05
        for _ in range(20):
            response = await self._call(
                partial(self._client.batch_write_item, RequestItems={self.table: pending})
            )
            # The output's item type differs from the input's only in the stubs' names.
            pending = response.get("UnprocessedItems", {}).get(self.table, [])  # type: ignore[assignment]
            if not pending:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise UnavailableError(f"DynamoDB left {len(pending)} items unprocessed after 20 tries")

    async def write_balances(
        self,
        rows: Iterable[tuple[str, int]],
        *,
        parallel: int = 8,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write rows in 25-row batches, `parallel` calls at a time; memory stays flat."""
        written = 0
        in_flight: set[asyncio.Task[int]] = set()

        async def collect(when: str) -> None:
            nonlocal in_flight, written
            done, in_flight = await asyncio.wait(in_flight, return_when=when)
            for task in done:
                written += task.result()
                if on_progress is not None:
                    on_progress(written)

        try:
            for batch in chunks(rows, names.DDB_BATCH_WRITE_MAX):
                if len(in_flight) >= parallel:
                    await collect(asyncio.FIRST_COMPLETED)
                in_flight.add(asyncio.create_task(self._write_counted(batch)))
            while in_flight:
                await collect(asyncio.FIRST_COMPLETED)
        finally:
            for task in in_flight:
                task.cancel()
        return written

    async def _write_counted(self, rows: list[tuple[str, int]]) -> int:
        await self.write_batch(rows)
        return len(rows)
