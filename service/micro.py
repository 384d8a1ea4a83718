"""A small ADR-32 ("services framework") implementation with concurrent handlers and truthful stats.

Why not nats-py's `nats.micro` (2.16): it runs one handler at a time per endpoint, so one slow
DynamoDB call stalls every request behind it; a handler that hands the request to a task
returns before the outcome is known, so `$SRV.STATS` would count failures as successes and
measure processing time to the hand-off.

Here every request runs in its own task, as many at once as `concurrency_limit.py` allows (at
most `max_concurrency`; the rest wait in `admission.py`'s queue, never inside nats-py's delivery
callback), with a budget that counts from its arrival, and is counted when its reply has been
sent. The `$SRV` discovery subjects and response documents follow ADR-32 and are checked
against its JSON schemas in the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from pydantic import JsonValue

from service import concurrency_limit, protocol
from service.admission import Admission, Verdict
from service.connection import flush_in_order, own_inboxes
from service.discovery import (
    EndpointCounters,
    EndpointInfo,
    EndpointStats,
    InfoResponse,
    PingResponse,
    ServiceIdentity,
    StatsResponse,
    control_subjects,
    new_service_id,
)
from service.faults import INTERNAL_ERROR_MESSAGE, BadRequestError, ServiceFault

log = logging.getLogger(__name__)

Handler = Callable[[bytes, float], Awaitable[bytes]]
"""Takes the request body and the loop time its reply is due; returns the reply body, raises
ServiceFault for a coded error."""

OVERLOADED = "the service is overloaded; try again"
STOPPING = "the service is stopping; try again"
PENDING_PER_PLACE = 4
PENDING_FLOOR = 10_000
"""nats-py's own queue for the endpoint holds at most max(floor, 4 per slot and queue place)
messages. Our callback never waits, so it only fills with a burst that arrived in one read, or
when the event loop is starved; past it nats-py drops messages (its slow-consumer error)."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    subject: str
    queue_group: str
    handler: Handler
    metadata: dict[str, str] = field(default_factory=dict)
    stats_data: Callable[[], dict[str, JsonValue]] | None = None
    """Extra endpoint figures for `$SRV.STATS` (its `data` field)."""


def received_on(msg: Msg) -> Client:
    """The connection that delivered `msg`: its reply must leave there. The server lets the
    service publish to a caller's reply subject only on the connection the request came in on
    (the service user's `allow_responses`); after a lame-duck move that is not the current one."""
    return msg._client


class Unanswered:
    """Requests received and not answered yet, by the connection they came in on."""

    def __init__(self) -> None:
        self._counts: dict[Client, int] = {}
        self._answered: dict[Client, asyncio.Event] = {}

    def received(self, nc: Client) -> None:
        self._counts[nc] = self._counts.get(nc, 0) + 1

    def settled(self, nc: Client) -> None:
        left = self._counts.get(nc, 0) - 1
        if left > 0:
            self._counts[nc] = left
            return
        self._counts.pop(nc, None)
        answered = self._answered.pop(nc, None)
        if answered is not None:
            answered.set()

    async def none_on(self, nc: Client) -> None:
        """Returns once every request `nc` delivered has been answered (or dropped unanswered
        because its caller had gone)."""
        while nc in self._counts:
            await self._answered.setdefault(nc, asyncio.Event()).wait()


@dataclass(frozen=True)
class Arrival:
    msg: Msg
    received_ns: int
    deadline: float
    """Loop time the reply is due: the budget from arrival, capped at the caller's timeout."""
    caller_deadline: float | None = None
    """Loop time after which the caller no longer listens (its `Request-Timeout-Ms`)."""

    def abandoned(self, now: float) -> bool:
        """The caller has stopped listening: an answer would reach nobody."""
        return self.caller_deadline is not None and now >= self.caller_deadline


class MicroService:
    """One instance of a service with one endpoint; start, stop_accepting, wait_idle."""

    def __init__(
        self,
        nc: Client,
        identity: ServiceIdentity,
        endpoint: Endpoint,
        *,
        max_concurrency: int,
        budget_s: float,
        queue_limit: int | None = None,
        service_id: str | None = None,
    ) -> None:
        self._nc = nc
        self._own_inboxes: tuple[str, ...] = ()
        """Where replies would come back to the service itself (service.connection.own_inboxes)."""
        self.identity = identity
        self.endpoint = endpoint
        self.id = service_id or new_service_id()
        self.stats = EndpointCounters()
        self.expired = 0
        """Requests dropped unanswered because their caller's timeout had passed."""
        self._budget_s = budget_s
        self._admission: Admission[Arrival] = Admission(
            slots=max_concurrency,
            queue_limit=max_concurrency if queue_limit is None else queue_limit,
            limit=concurrency_limit.for_budget(max_concurrency, budget_s),
        )
        self._in_flight: set[asyncio.Task[None]] = set()
        self._unanswered = Unanswered()
        self._endpoint_sub: Subscription | None = None
        self._control_subs: list[Subscription] = []
        self._started = datetime.now(UTC)

    @property
    def accepting(self) -> bool:
        return self._endpoint_sub is not None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight) + self._admission.queued

    async def start(self) -> None:
        self._own_inboxes = own_inboxes(self._nc)
        await self._subscribe_control()
        self._endpoint_sub = await self._subscribe_endpoint()
        await flush_in_order(self._nc)

    async def move_to(self, nc: Client) -> None:
        """Serve on `nc` from now on, with the same identity, stats and admission: the endpoint
        is subscribed there before it ends on the old connection (whose requests already
        delivered are still served), so the queue group never lacks this instance; replies
        leave on the connection each request came in on (`received_on`). The discovery subjects
        move without overlap: one answer per instance."""
        old_nc, old_endpoint, old_control = self._nc, self._endpoint_sub, self._control_subs
        self._nc, self._control_subs = nc, []
        self._own_inboxes = tuple(sorted({*self._own_inboxes, *own_inboxes(nc)}))
        for sub in old_control:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()
        await self._subscribe_control()
        if old_endpoint is not None:
            self._endpoint_sub = await self._subscribe_endpoint()
        await flush_in_order(nc)
        if old_endpoint is not None and not old_nc.is_closed:
            # What the old subscription was delivered before its UNSUB is still served.
            with contextlib.suppress(NatsError, TimeoutError):
                await asyncio.wait_for(old_endpoint.drain(), self._budget_s)  # type: ignore[no-untyped-call]

    async def answered_on(self, nc: Client) -> None:
        """Returns once every request `nc` delivered has its reply sent (on `nc`)."""
        await self._unanswered.none_on(nc)

    async def _subscribe_control(self) -> None:
        for subject in control_subjects(self.identity.name, self.id):
            self._control_subs.append(await self._nc.subscribe(subject, cb=self._on_control))

    async def _subscribe_endpoint(self) -> Subscription:
        places = self._admission.slots + self._admission.queue_limit
        return await self._nc.subscribe(
            self.endpoint.subject,
            queue=self.endpoint.queue_group,
            cb=self._on_request,
            pending_msgs_limit=max(PENDING_FLOOR, PENDING_PER_PLACE * places),
        )

    async def stop_accepting(self, timeout_s: float) -> None:
        """Stop taking requests; what was already delivered is queued as usual (bounded)."""
        sub, self._endpoint_sub = self._endpoint_sub, None
        if sub is not None:
            # drain(): unsubscribe, then let the callback take what was already delivered; it
            # never waits, so this is quick, and bounded anyway.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.drain(), timeout_s)  # type: ignore[no-untyped-call]

    async def wait_idle(self, limit_s: float) -> bool:
        """Wait for running and queued requests; at the limit the queued ones get a 503.

        False when something was still running or queued at the limit.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while self._in_flight and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(
                set(self._in_flight), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        refused = self._admission.drop_queued()
        for arrival in refused:
            await self._refuse(arrival, STOPPING)
        return not self._in_flight and not refused

    async def _on_request(self, msg: Msg) -> None:
        # Never waits before deciding: a backlog sits in our queue, timestamped, not in nats-py's.
        received_ns = time.perf_counter_ns()
        refused = protocol.reply_problem(msg.reply, self._own_inboxes)
        if refused is not None:  # nobody to answer, or a subject the caller must not make us write
            self.stats.record(0, f"{BadRequestError.code}:{refused}")
            return
        self._unanswered.received(received_on(msg))
        now = asyncio.get_running_loop().time()
        try:
            caller_s = protocol.caller_timeout_s(msg.headers)
        except BadRequestError as fault:
            await self._answer_fault(msg, received_ns, fault.code, fault.message, fault.stats_text)
            return
        allowed_s = self._budget_s if caller_s is None else min(self._budget_s, caller_s)
        caller_deadline = None if caller_s is None else now + caller_s
        arrival = Arrival(msg, received_ns, now + allowed_s, caller_deadline)
        verdict = self._admission.offer(
            arrival, deadline=arrival.deadline, now=now, allowed_s=allowed_s
        )
        if verdict is Verdict.START:
            self._launch(arrival)
        elif verdict is not Verdict.QUEUED:
            await self._turn_away(arrival, now)

    async def _turn_away(self, arrival: Arrival, now: float) -> None:
        """A request that will not start: dropped when its caller has gone, else a 503."""
        if arrival.abandoned(now):
            self.expired += 1  # no reply, no read, no event: nobody is listening
            self._unanswered.settled(received_on(arrival.msg))
        else:
            await self._refuse(arrival, OVERLOADED)

    def _launch(self, arrival: Arrival) -> None:
        """Serve the request in its own task, tracked until it is done."""
        task = asyncio.create_task(self._serve(arrival))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _serve(self, arrival: Arrival) -> None:
        msg = arrival.msg
        started = asyncio.get_running_loop().time()
        headers: dict[str, str] | None = None
        error: str | None = None
        try:
            try:
                body = await self.endpoint.handler(msg.data, arrival.deadline)
            except ServiceFault as fault:
                body, headers = self._error_reply(fault.code, fault.message)
                error = f"{fault.code}:{fault.stats_text}"
            except Exception:
                log.exception("request.failed", extra={"subject": msg.subject})
                body, headers = self._error_reply(500, INTERNAL_ERROR_MESSAGE)
                error = f"500:{INTERNAL_ERROR_MESSAGE}"
            await received_on(msg).publish(msg.reply, body, headers=headers)
        except Exception:
            log.exception("reply.failed", extra={"subject": msg.subject})
            error = "500:reply could not be sent"
        finally:
            self._unanswered.settled(received_on(msg))
            self.stats.record(time.perf_counter_ns() - arrival.received_ns, error)
            now = asyncio.get_running_loop().time()
            answered = error is None or error.startswith("4")
            expired, starting = self._admission.finished(
                now=now, started=started, answered=answered
            )
            for following in starting:
                self._launch(following)
            for late in expired:
                await self._turn_away(late, now)

    async def _refuse(self, arrival: Arrival, message: str) -> None:
        """A 503 without any work: it could not start in time, or we are stopping."""
        await self._answer_fault(arrival.msg, arrival.received_ns, 503, message)

    async def _answer_fault(
        self, msg: Msg, received_ns: int, code: int, message: str, stats_text: str = ""
    ) -> None:
        """A coded error sent without any work, and counted."""
        error = f"{code}:{stats_text or message}"
        try:
            body, headers = self._error_reply(code, message)
            await received_on(msg).publish(msg.reply, body, headers=headers)
        except Exception:
            log.exception("reply.failed", extra={"subject": msg.subject})
            error = "500:reply could not be sent"
        finally:
            self._unanswered.settled(received_on(msg))
        self.stats.record(time.perf_counter_ns() - received_ns, error)

    @staticmethod
    def _error_reply(code: int, message: str) -> tuple[bytes, dict[str, str]]:
        return protocol.encode_error(code, message), protocol.error_headers(code, message)

    async def _on_control(self, msg: Msg) -> None:
        verb = msg.subject.split(".")[1]
        document = {
            "PING": self.ping_response,
            "INFO": self.info_response,
            "STATS": self.stats_response,
        }[verb]()
        if protocol.reply_problem(msg.reply, self._own_inboxes) is None:
            await received_on(msg).publish(msg.reply, document.encode())

    def ping_response(self) -> PingResponse:
        return PingResponse(**self._identity_fields())

    def info_response(self) -> InfoResponse:
        return InfoResponse(
            **self._identity_fields(),
            description=self.identity.description,
            endpoints=[
                EndpointInfo(
                    name=self.endpoint.name,
                    subject=self.endpoint.subject,
                    queue_group=self.endpoint.queue_group,
                    metadata=dict(self.endpoint.metadata),
                )
            ],
        )

    def stats_response(self) -> StatsResponse:
        stats_data = self.endpoint.stats_data
        return StatsResponse(
            **self._identity_fields(),
            started=self._started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            endpoints=[
                EndpointStats(
                    name=self.endpoint.name,
                    subject=self.endpoint.subject,
                    queue_group=self.endpoint.queue_group,
                    num_requests=self.stats.num_requests,
                    num_errors=self.stats.num_errors,
                    last_error=self.stats.last_error,
                    processing_time=self.stats.processing_time_ns,
                    average_processing_time=self.stats.average_processing_time_ns,
                    data={**(stats_data() if stats_data else {}), **self._admission_figures()},
                )
            ],
        )

    def _admission_figures(self) -> dict[str, JsonValue]:
        """The admission figures `$SRV.STATS` adds to the endpoint's own `data`."""
        return {"expired": self.expired, "concurrency_limit": self._admission.allowed}

    def _identity_fields(self) -> dict[str, Any]:
        """What every document repeats: name, id, version, metadata."""
        return {
            "name": self.identity.name,
            "id": self.id,
            "version": self.identity.version,
            "metadata": self.identity.metadata,
        }
