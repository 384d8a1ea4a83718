"""The request path under pressure, against a real nats-server: a backlog waits in the service's
own queue with its budget counting from arrival, SIGTERM's drain is bounded, and a request
nobody can answer costs nothing. The handler is a double that takes a second per request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client

from service import names
from service.connection import flush_in_order
from service.discovery import ServiceIdentity
from service.faults import UnavailableError
from service.micro import STOPPING, Endpoint, Handler, MicroService
from service.protocol import decode_reply
from tests.support.servers import NatsServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("a backlog's budget and SIGTERM's drain, measured in seconds"),
]

SUBJECT = "overload.test"


@dataclass
class SlowHandler:
    seconds: float = 1.0
    calls: list[float] = field(default_factory=list)

    async def __call__(self, data: bytes, deadline: float) -> bytes:
        self.calls.append(asyncio.get_running_loop().time())
        await asyncio.sleep(self.seconds)
        return b'{"balance":1}'


@pytest.fixture
async def server_nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    connection = await nats.connect(nats_server.url)
    yield connection
    await connection.close()


async def start(
    nc: Client, handler: Handler, *, concurrency: int, queue_limit: int = 100
) -> MicroService:
    service = MicroService(
        nc,
        ServiceIdentity("overload", "1.0.0", "a service under pressure"),
        Endpoint("work", SUBJECT, "q", handler),
        max_concurrency=concurrency,
        budget_s=4.0,
        queue_limit=queue_limit,
    )
    await service.start()
    return service


async def test_work_for_callers_who_left_is_not_done(server_nc: Client, nc: Client) -> None:
    """Concurrency 2, one second a request, 20 callers who wait 2 s: the budget counts from
    arrival, so what cannot start in time gets a 503 without being worked on."""
    handler = SlowHandler()
    service = await start(server_nc, handler, concurrency=2)
    outcomes = await asyncio.gather(
        *(nc.request(SUBJECT, b"{}", timeout=2) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) >= 2
    await asyncio.sleep(3.0)  # everything left is decided by 4 s after arrival
    assert len(handler.calls) == 8  # two at a time, started at 0, 1, 2 and 3 s; 20 before
    assert service.in_flight == 0
    assert (service.stats.num_requests, service.stats.num_errors) == (20, 12)
    assert service.stats.last_error == "503:the service is overloaded; try again"
    # Measured from arrival (queueing included): before, 1.00 s, as if nobody had waited.
    assert service.stats.average_processing_time_ns / 1e9 > 3.0


async def test_a_drain_is_bounded_and_what_cannot_finish_gets_503(
    server_nc: Client, nc: Client
) -> None:
    service = await start(server_nc, SlowHandler(), concurrency=1)
    requests = [asyncio.create_task(nc.request(SUBJECT, b"{}", timeout=10)) for _ in range(15)]
    await asyncio.sleep(0.3)  # all 15 delivered: one running, 14 queued
    loop = asyncio.get_running_loop()
    began = loop.time()
    await service.stop_accepting(2.0)
    finished = await service.wait_idle(2.0)
    assert loop.time() - began < 3.0  # was 15 s: drain waited for the whole backlog first
    assert not finished
    replies = [decode_reply(m.data, m.headers) for m in await asyncio.gather(*requests)]
    stopped = [r for r in replies if r.error_code == 503]
    assert len(replies) == 15  # every caller got an answer, none timed out
    assert len(stopped) >= 11
    assert all(r.error_message == STOPPING for r in stopped)


async def test_past_the_queue_limit_a_request_is_refused_at_once(
    server_nc: Client, nc: Client
) -> None:
    handler = SlowHandler()
    await start(server_nc, handler, concurrency=1, queue_limit=1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    requests = [asyncio.create_task(nc.request(SUBJECT, b"{}", timeout=5)) for _ in range(5)]
    first_refusal = await asyncio.wait_for(asyncio.shield(requests[4]), 1)
    assert decode_reply(first_refusal.data, first_refusal.headers).error_code == 503
    assert loop.time() - began < 0.5  # not after a wait: callers learn at once
    replies = [decode_reply(m.data, m.headers) for m in await asyncio.gather(*requests)]
    assert [r.ok for r in replies].count(True) == 2
    assert len(handler.calls) == 2


async def test_a_request_without_a_reply_subject_costs_nothing(
    server_nc: Client, nc: Client
) -> None:
    handler = SlowHandler(seconds=0)
    service = await start(server_nc, handler, concurrency=2)
    await nc.publish(SUBJECT, b'{"client_id":"1"}')
    await flush_in_order(nc)
    for _ in range(100):  # delivered within moments; bounded
        if service.stats.num_requests:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # a handler started now would have been called by then
    assert handler.calls == []  # no read, so no event either
    assert (service.stats.num_requests, service.stats.num_errors) == (1, 1)
    assert service.stats.last_error == "400:request has no reply subject"


def waiting(milliseconds: int) -> dict[str, str]:
    return {names.TIMEOUT_HEADER: str(milliseconds)}


async def test_a_request_whose_caller_has_gone_is_dropped_unanswered(
    server_nc: Client, nc: Client
) -> None:
    """Concurrency 1, one second a request: five callers who wait 300 ms queue behind one that
    waits 5 s. When the slot frees, their callers have gone: no work, no reply, counted."""
    handler = SlowHandler()
    service = await start(server_nc, handler, concurrency=1)
    first = asyncio.create_task(nc.request(SUBJECT, b"{}", timeout=5))
    await asyncio.sleep(0.1)
    impatient = await asyncio.gather(
        *(nc.request(SUBJECT, b"{}", timeout=0.5, headers=waiting(300)) for _ in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, nats.errors.TimeoutError) for outcome in impatient)
    assert decode_reply((await first).data, None).ok
    await asyncio.sleep(0.2)  # the slot freed at 1 s; the queue was looked at then
    assert len(handler.calls) == 1
    assert service.expired == 5
    assert (service.stats.num_requests, service.stats.num_errors) == (1, 0)

    await nc.publish(SUBJECT, b"{}", reply=nc.new_inbox(), headers=waiting(0))  # gone on arrival
    await flush_in_order(nc)
    for _ in range(100):  # delivered within moments; bounded
        if service.expired == 6:
            break
        await asyncio.sleep(0.02)
    assert service.expired == 6
    assert len(handler.calls) == 1
    stats = service.stats_response().endpoints[0]
    assert stats.data is not None
    assert stats.data["expired"] == 6


async def test_the_callers_timeout_caps_the_budget(server_nc: Client, nc: Client) -> None:
    deadlines: list[float] = []

    async def remember(data: bytes, deadline: float) -> bytes:
        deadlines.append(deadline - asyncio.get_running_loop().time())
        return b'{"balance":1}'

    service = MicroService(
        server_nc,
        ServiceIdentity("capped", "1.0.0", "a service that honours its callers' timeouts"),
        Endpoint("work", SUBJECT, "q", remember),
        max_concurrency=4,
        budget_s=4.0,
    )
    await service.start()
    await nc.request(SUBJECT, b"{}", timeout=2, headers=waiting(800))
    await nc.request(SUBJECT, b"{}", timeout=2)
    capped, uncapped = deadlines
    assert 0.7 < capped <= 0.8
    assert 3.9 < uncapped <= 4.0


async def test_a_malformed_timeout_header_is_a_400_naming_it(server_nc: Client, nc: Client) -> None:
    handler = SlowHandler(seconds=0)
    await start(server_nc, handler, concurrency=2)
    for value in ("soon", "-5", "1.5", "²", "99999999999"):
        msg = await nc.request(SUBJECT, b"{}", timeout=2, headers={names.TIMEOUT_HEADER: value})
        reply = decode_reply(msg.data, msg.headers)
        assert reply.error_code == 400, value
        assert reply.error_message is not None
        assert reply.error_message.startswith(f"header {names.TIMEOUT_HEADER} must be whole")
    assert handler.calls == []


@dataclass
class Dependency:
    """A dependency that serves `slots` calls at once, `seconds` each (40 a second), behind a
    handler that gives up at its deadline, as the balance handler does."""

    slots: int = 4
    seconds: float = 0.1
    served: int = 0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.slots)

    async def __call__(self, data: bytes, deadline: float) -> bytes:
        try:
            async with asyncio.timeout_at(deadline), self._slots:
                await asyncio.sleep(self.seconds)
        except TimeoutError:
            raise UnavailableError("too late") from None
        self.served += 1
        return b'{"balance":1}'


async def test_a_backlog_inside_the_handler_lowers_the_limit_and_failures_come_fast(
    server_nc: Client, nc: Client
) -> None:
    """Three times the dependency's capacity for 8 s, with 400 allowed at once. At a fixed
    limit the 400 admitted queue for the dependency and most failures come after the whole 4 s
    budget; following latency, the limit falls to what the dependency serves within a second,
    the rest are refused on arrival, and the dependency stays busy with answers that arrive."""
    dependency = Dependency()
    service = await start(server_nc, dependency, concurrency=400, queue_limit=400)
    loop = asyncio.get_running_loop()
    outcomes: list[tuple[float, float, int | None]] = []

    async def call(sent: float) -> None:
        msg = await nc.request(SUBJECT, b"{}", timeout=5)
        reply = decode_reply(msg.data, msg.headers)
        outcomes.append((sent, loop.time() - sent, reply.error_code))

    began = loop.time()
    calls = []
    for n in range(960):  # 120 a second for 8 s, open loop
        await asyncio.sleep(max(0.0, began + n / 120 - loop.time()))
        calls.append(asyncio.create_task(call(loop.time())))
    await asyncio.gather(*calls)
    late = [o for o in outcomes if o[0] - began >= 4.0]
    failed = sorted(latency for _, latency, code in late if code is not None)
    assert {code for _, _, code in outcomes} <= {None, 503}
    assert failed, "the load did not exceed the dependency's capacity"
    assert failed[len(failed) // 2] < 0.5  # the median refusal is fast (fixed limit: ~4 s)
    assert dependency.served >= 0.8 * 40 * 8  # goodput: 80% of what the dependency can do
    stats = service.stats_response().endpoints[0]
    assert stats.data is not None
    assert isinstance(stats.data["concurrency_limit"], int)
    assert stats.data["concurrency_limit"] < 400
