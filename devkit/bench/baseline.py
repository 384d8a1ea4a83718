"""What the stack's parts can do on their own, measured beside `invoke bench --baseline`:
raw DynamoDB GetItem calls, BatchGetItem items (the service's batch size a call), NATS
request/reply with a trivial responder, and the service floor (devkit.bench.floors). The service's
throughput as a fraction of each, and its CPU as a multiple of the floor's, say where time goes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.nuid import NUID

from devkit.bench.closed_loop import Counted, count_calls
from devkit.bench.floors import service_floor
from devkit.bench.load import connect
from devkit.bench.plan import ServiceAddress
from devkit.bench.report import BaselineFigures
from service import names
from service.connection import flush_in_order
from service.credentials import inbox_prefix_of
from service.settings import Settings
from service.store import open_dynamodb

BATCH_KEYS = 100
"""DynamoDB's BatchGetItem limit, and the service's default batch (Settings.ddb_batch_max)."""
DYNAMODB_CONCURRENCY_CAP = 256
"""The service's own default connection pool; more connections only add emulator threads."""


@dataclass(frozen=True)
class DynamoDBRun:
    """A raw DynamoDB run: its rate, and this process's CPU per item read (the client's share of
    a replica's work: building requests, parsing answers)."""

    per_second: float
    cpu_us_per_item: float | None


async def _measured(run: Awaitable[Counted]) -> DynamoDBRun:
    before = time.process_time()
    counted = await run
    cpu_s = time.process_time() - before
    return DynamoDBRun(counted.per_second, cpu_s / counted.units * 1e6 if counted.units else None)


async def getitem_rps(
    settings: Settings, ids: Sequence[str], concurrency: int, duration_s: float
) -> DynamoDBRun:
    concurrency = min(concurrency, DYNAMODB_CONCURRENCY_CAP)
    async with open_dynamodb(settings, pool_size=concurrency) as client:

        async def call(index: int) -> int:
            await client.get_item(
                TableName=settings.ddb_table,
                Key={names.DDB_KEY_ATTRIBUTE: {"S": ids[index % len(ids)]}},
            )
            return 1

        return await _measured(count_calls(concurrency, duration_s, call))


async def batchgetitem_items_per_s(
    settings: Settings,
    ids: Sequence[str],
    concurrency: int,
    duration_s: float,
    batch_keys: int = BATCH_KEYS,
) -> DynamoDBRun:
    concurrency = min(concurrency, DYNAMODB_CONCURRENCY_CAP)
    distinct = list(dict.fromkeys(ids))
    async with open_dynamodb(settings, pool_size=concurrency) as client:

        async def call(index: int) -> int:
            start = (index * batch_keys) % len(distinct)
            keys = [
                distinct[(start + k) % len(distinct)] for k in range(min(batch_keys, len(distinct)))
            ]
            response = await client.batch_get_item(
                RequestItems={
                    settings.ddb_table: {
                        "Keys": [{names.DDB_KEY_ATTRIBUTE: {"S": key}} for key in keys]
                    }
                }
            )
            return len(response.get("Responses", {}).get(settings.ddb_table, []))

        return await _measured(count_calls(concurrency, duration_s, call))


async def nats_echo_rps(target: ServiceAddress, concurrency: int, duration_s: float) -> float:
    """Round trips through the same server, with a responder that only says "ok".

    Uses a subject in the user's own inbox, which it may publish and subscribe to.
    """
    prefix = inbox_prefix_of(target.creds) or names.INBOX_PREFIX
    subject = f"{prefix}.bench-echo.{NUID().next().decode()}"
    responder = await connect(target, "customer-bench-echo-responder")
    requester = await connect(target, "customer-bench-echo-requester")
    try:

        async def reply(msg: Msg) -> None:
            await msg.respond(b"ok")

        await responder.subscribe(subject, cb=reply)
        await flush_in_order(responder)

        async def call(index: int) -> int:
            await requester.request(subject, b"ping", timeout=5)
            return 1

        return (await count_calls(concurrency, duration_s, call)).per_second
    finally:
        await requester.close()
        await responder.close()


async def measure(
    settings: Settings,
    target: ServiceAddress,
    ids: Sequence[str],
    concurrency: int,
    duration_s: float,
    floor_target: ServiceAddress | None = None,
) -> BaselineFigures:
    """Each part on its own; with `floor_target` (a user that may make a stream) the service
    floor too, its DynamoDB share from the BatchGetItem run at the service's own batch size."""
    batch_keys = settings.ddb_batch_max
    # Capacity, not the service's latency budget: let slow calls finish.
    settings = settings.model_copy(update={"ddb_call_timeout_s": 30.0})
    getitem = await getitem_rps(settings, ids, concurrency, duration_s)
    batches = await batchgetitem_items_per_s(
        settings, ids, concurrency, duration_s, batch_keys=batch_keys
    )
    echo = await nats_echo_rps(target, concurrency, duration_s)
    floor = (
        None
        if floor_target is None
        else await service_floor(
            floor_target, ids, concurrency, duration_s, replicas=settings.stream_replicas
        )
    )
    dynamodb_share = getitem if batch_keys == 1 else batches  # what a replica calls
    return BaselineFigures(
        getitem_rps=round(getitem.per_second, 1),
        batchgetitem_items_per_s=round(batches.per_second, 1),
        nats_echo_rps=round(echo, 1),
        dynamodb_concurrency=min(concurrency, DYNAMODB_CONCURRENCY_CAP),
        duration_s_each=duration_s,
        dynamodb_batch_keys=batch_keys,
        dynamodb_cpu_us_per_item=_rounded(dynamodb_share.cpu_us_per_item),
        service_floor_rps=None if floor is None else round(floor.rps, 1),
        service_floor_nats_cpu_us_per_request=None
        if floor is None
        else _rounded(floor.cpu_us_per_request),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
