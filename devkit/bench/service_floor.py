"""`python -m devkit.bench.service_floor`: the service's NATS work per request and nothing else,
in a process of its own so its CPU can be read like a replica's.

Per request it does what a replica does on the wire: decode the request, publish one event to
JetStream (the same headers, its ack awaited on one wildcard inbox, as service/events.py does),
and reply with a balance-sized body. No DynamoDB (that share is measured on its own, raw
BatchGetItem), no admission, no deadlines, no logs: the floor a nats-py responder cannot beat.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import Header

from devkit.bench.floors import READY, floor_connection

FLOOR_BALANCE = 1_234_567
"""A balance-sized number for the reply body."""


class Responder:
    """Answers `subject` with one acknowledged event per request."""

    def __init__(self, nc: Client, *, event_prefix: str, stream: str) -> None:
        self._nc = nc
        self._event_prefix = event_prefix
        self._stream = stream
        self._inbox = nc.new_inbox() + "."
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._sequence = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, subject: str) -> None:
        await self._nc.subscribe(self._inbox + "*", cb=self._on_ack)
        await self._nc.subscribe(subject, cb=self._on_request)
        await self._nc.flush()

    async def _on_ack(self, msg: Msg) -> None:
        future = self._pending.pop(msg.subject[len(self._inbox) :], None)
        if future is not None and not future.done():
            future.set_result(msg.data)

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        client_id = str(orjson.loads(msg.data).get("client_id", ""))
        number = next(self._sequence)
        token = str(number)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        event = orjson.dumps(
            {
                "client_id": client_id,
                "balance": FLOOR_BALANCE,
                "served_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "service_id": "floor",
            }
        )
        await self._nc.publish(
            f"{self._event_prefix}.{client_id}",
            event,
            reply=self._inbox + token,
            headers={
                Header.MSG_ID.value: f"floor-{number}",
                Header.EXPECTED_STREAM.value: self._stream,
            },
        )
        ack = orjson.loads(await future)
        if isinstance(ack, dict) and "seq" in ack:
            await msg.respond(orjson.dumps({"balance": FLOOR_BALANCE}))
        else:
            await msg.respond(orjson.dumps({"error": {"code": 503, "message": "not stored"}}))


async def serve(url: str, creds: Path | None, subject: str, event_prefix: str, stream: str) -> None:
    async with floor_connection(url, creds, "customer-bench-service-floor") as (nc, stopped):
        await Responder(nc, event_prefix=event_prefix, stream=stream).start(subject)
        print(READY, flush=True)
        await stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.bench.service_floor")
    parser.add_argument("--url", required=True)
    parser.add_argument("--creds", type=Path)
    parser.add_argument("--subject", required=True, help="where requests arrive")
    parser.add_argument("--event-prefix", required=True, help="events go to PREFIX.<client_id>")
    parser.add_argument("--stream", required=True, help="the stream that must store them")
    arguments = parser.parse_args()
    asyncio.run(
        serve(
            arguments.url,
            arguments.creds,
            arguments.subject,
            arguments.event_prefix,
            arguments.stream,
        )
    )


if __name__ == "__main__":
    main()
