"""A replica stopped with SIGTERM during a burst finishes its requests; none fail."""

from __future__ import annotations

import asyncio
import json
import signal

import pytest
from nats.aio.client import Client

from service import names
from service.protocol import decode_reply
from tests.support.messages import request_payload
from tests.support.replicas import ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.serial("a drain bounded in time during a burst")]

BURST = 600
CONCURRENCY = 64


async def test_sigterm_during_a_burst_fails_no_request(
    start_service: ServiceFactory, nc: Client
) -> None:
    leaving, staying = start_service(), start_service()
    replies: list[bytes | None] = []
    answered = asyncio.Event()
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with semaphore:
            msg = await nc.request(
                names.REQUEST_SUBJECT, request_payload(str(i % 1000 + 1)), timeout=5
            )
        replies.append(msg.data if decode_reply(msg.data, msg.headers).ok else None)
        if len(replies) == BURST // 4:
            answered.set()

    burst = asyncio.gather(*(one(i) for i in range(BURST)), return_exceptions=True)
    await answered.wait()
    leaving_stats = json.loads(
        (await nc.request(f"$SRV.STATS.customer.{_id(leaving)}", b"", timeout=2)).data
    )
    leaving.process.send_signal(signal.SIGTERM)
    outcomes = await burst

    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert len(replies) == BURST
    assert None not in replies
    assert leaving_stats["endpoints"][0]["num_requests"] > 0  # it really was serving
    assert await asyncio.to_thread(leaving.process.wait, 30) == 0
    assert leaving.events_named("service.drained")
    assert staying.process.poll() is None


def _id(service: object) -> str:
    events = service.events_named("service.ready")  # type: ignore[attr-defined]
    return str(events[0]["service_id"])
