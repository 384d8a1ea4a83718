"""What the stack's parts can do on their own, measured beside `invoke bench --baseline`:
raw DynamoDB GetItem calls, BatchGetItem items (100 keys a call), and NATS request/reply with a
trivial responder. The service's throughput as a fraction of each says where time goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from nats.nuid import NUID

from devkit.bench.load import connect
from devkit.bench.plan import ServiceAddress
from devkit.bench.report import BaselineFigures
from service import names
from service.connection import flush_in_order
from service.credentials import inbox_prefix_of
from service.settings import Settings
from service.store import open_dynamodb

BATCH_KEYS = 100
DYNAMODB_CONCURRENCY_CAP = 256
"""The service's own default connection pool; more connections only add emulator threads."""


async def _rate(
    concurrency: int, duration_s: float, call: Callable[[int], Awaitable[int]]
) -> float:
    """Run `concurrency` loops of `call` for `duration_s`; units done per second (failed calls
    count nothing: the figure is capacity, and an overloaded endpoint shows as a lower one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    done = 0

    async def worker(number: int) -> None:
        nonlocal done
        index = number
        while loop.time() < deadline:
            try:
                units = await call(index)  # read `done` only after the await: no lost updates
                done += units
            except Exception:  # a failed call adds no capacity; back off a little
                await asyncio.sleep(0.01)
            finally:
                index += concurrency

    started = loop.time()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return done / (loop.time() - started)


async def getitem_rps(
    settings: Settings, ids: Sequence[str], concurrency: int, duration_s: float
) -> float:
    concurrency = min(concurrency, DYNAMODB_CONCURRENCY_CAP)
    async with open_dynamodb(settings, pool_size=concurrency) as client:

        async def call(index: int) -> int:
            await client.get_item(
                TableName=settings.ddb_table,
                Key={names.DDB_KEY_ATTRIBUTE: {"S": ids[index % len(ids)]}},
            )
            return 1

        return await _rate(concurrency, duration_s, call)


async def batchgetitem_items_per_s(
    settings: Settings, ids: Sequence[str], concurrency: int, duration_s: float
) -> float:
    concurrency = min(concurrency, DYNAMODB_CONCURRENCY_CAP)
    distinct = list(dict.fromkeys(ids))
    async with open_dynamodb(settings, pool_size=concurrency) as client:

        async def call(index: int) -> int:
            start = (index * BATCH_KEYS) % len(distinct)
            keys = [
                distinct[(start + k) % len(distinct)] for k in range(min(BATCH_KEYS, len(distinct)))
            ]
            response = await client.batch_get_item(
                RequestItems={
                    settings.ddb_table: {
                        "Keys": [{names.DDB_KEY_ATTRIBUTE: {"S": key}} for key in keys]
                    }
                }
            )
            return len(response.get("Responses", {}).get(settings.ddb_table, []))

        return await _rate(concurrency, duration_s, call)


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

        return await _rate(concurrency, duration_s, call)
    finally:
        await requester.close()
        await responder.close()


async def measure(
    settings: Settings,
    target: ServiceAddress,
    ids: Sequence[str],
    concurrency: int,
    duration_s: float,
) -> BaselineFigures:
    # Capacity, not the service's latency budget: let slow calls finish.
    settings = settings.model_copy(update={"ddb_call_timeout_s": 30.0})
    return BaselineFigures(
        getitem_rps=round(await getitem_rps(settings, ids, concurrency, duration_s), 1),
        batchgetitem_items_per_s=round(
            await batchgetitem_items_per_s(settings, ids, concurrency, duration_s), 1
        ),
        nats_echo_rps=round(await nats_echo_rps(target, concurrency, duration_s), 1),
        dynamodb_concurrency=min(concurrency, DYNAMODB_CONCURRENCY_CAP),
        duration_s_each=duration_s,
    )
