"""A small ADR-32 ("services framework") implementation with concurrent handlers and truthful stats.

Why not nats-py's `nats.micro` (2.16): it runs one handler at a time per endpoint, so one slow
DynamoDB call stalls every request behind it; a handler that hands the request to a task
returns before the outcome is known, so `$SRV.STATS` would count failures as successes and
measure processing time to the hand-off. Here every request runs in its own task, bounded by
a semaphore, and is counted when its reply has been sent. The `$SRV` discovery subjects and
response documents follow ADR-32 and are checked against its JSON schemas in the tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.nuid import NUID
from pydantic import JsonValue

from service import protocol
from service.discovery import (
    EndpointInfo,
    EndpointStats,
    InfoResponse,
    PingResponse,
    StatsResponse,
)
from service.faults import INTERNAL_ERROR_MESSAGE, ServiceFault

log = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[bytes]]
"""Takes the request body, returns the reply body, raises ServiceFault for a coded error."""

SRV_PREFIX = "$SRV"
VERBS = ("PING", "INFO", "STATS")


@dataclass(frozen=True)
class ServiceIdentity:
    name: str
    version: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    name: str
    subject: str
    queue_group: str
    handler: Handler
    metadata: dict[str, str] = field(default_factory=dict)
    stats_data: Callable[[], dict[str, JsonValue]] | None = None
    """Extra endpoint figures for `$SRV.STATS` (its `data` field)."""


@dataclass
class EndpointCounters:
    num_requests: int = 0
    num_errors: int = 0
    last_error: str = ""
    processing_time_ns: int = 0

    def record(self, elapsed_ns: int, error: str | None) -> None:
        self.num_requests += 1
        self.processing_time_ns += elapsed_ns
        if error is not None:
            self.num_errors += 1
            self.last_error = error

    @property
    def average_processing_time_ns(self) -> int:
        return self.processing_time_ns // self.num_requests if self.num_requests else 0


def control_subjects(name: str, service_id: str) -> list[str]:
    """The nine discovery subjects ADR-32 defines for one service instance."""
    subjects = []
    for verb in VERBS:
        subjects += [
            f"{SRV_PREFIX}.{verb}",
            f"{SRV_PREFIX}.{verb}.{name}",
            f"{SRV_PREFIX}.{verb}.{name}.{service_id}",
        ]
    return subjects


class MicroService:
    """One instance of a service with one endpoint; start, stop_accepting, wait_idle."""

    def __init__(
        self,
        nc: Client,
        identity: ServiceIdentity,
        endpoint: Endpoint,
        *,
        max_concurrency: int,
        service_id: str | None = None,
    ) -> None:
        self._nc = nc
        self.identity = identity
        self.endpoint = endpoint
        self.id = service_id or new_service_id()
        self.stats = EndpointCounters()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._endpoint_sub: Subscription | None = None
        self._control_subs: list[Subscription] = []
        self._started = datetime.now(UTC)

    @property
    def accepting(self) -> bool:
        return self._endpoint_sub is not None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def start(self) -> None:
        for subject in control_subjects(self.identity.name, self.id):
            self._control_subs.append(await self._nc.subscribe(subject, cb=self._on_control))
        self._endpoint_sub = await self._nc.subscribe(
            self.endpoint.subject, queue=self.endpoint.queue_group, cb=self._on_request
        )
        await self._nc.flush()

    async def stop_accepting(self) -> None:
        """Stop taking requests; the ones already delivered to this process still run."""
        sub, self._endpoint_sub = self._endpoint_sub, None
        if sub is not None:
            # drain(): unsubscribe, then let the callback take what was already delivered.
            await sub.drain()  # type: ignore[no-untyped-call]  # untyped in nats-py 2.16

    async def wait_idle(self, limit_s: float) -> bool:
        """Wait for in-flight requests; False if some were still running at the timeout."""
        if not self._in_flight:
            return True
        _, pending = await asyncio.wait(set(self._in_flight), timeout=limit_s)
        return not pending

    async def _on_request(self, msg: Msg) -> None:
        # Waiting here holds back the subscription's queue: backpressure, not unbounded tasks.
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg, time.perf_counter_ns()))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _serve(self, msg: Msg, received_ns: int) -> None:
        headers: dict[str, str] | None = None
        error: str | None = None
        try:
            try:
                body = await self.endpoint.handler(msg.data)
            except ServiceFault as fault:
                body, headers = self._error_reply(fault.code, fault.message)
                error = f"{fault.code}:{fault.message}"
            except Exception:
                log.exception("request.failed", extra={"subject": msg.subject})
                body, headers = self._error_reply(500, INTERNAL_ERROR_MESSAGE)
                error = f"500:{INTERNAL_ERROR_MESSAGE}"
            if msg.reply:
                await self._nc.publish(msg.reply, body, headers=headers)
            elif error is None:
                error = "400:request has no reply subject"
        except Exception:
            log.exception("reply.failed", extra={"subject": msg.subject})
            error = "500:reply could not be sent"
        finally:
            self.stats.record(time.perf_counter_ns() - received_ns, error)
            self._slots.release()

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
        if msg.reply:
            await self._nc.publish(msg.reply, document.encode())

    def ping_response(self) -> PingResponse:
        return PingResponse(
            name=self.identity.name,
            id=self.id,
            version=self.identity.version,
            metadata=dict(self.identity.metadata),
        )

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
                    data=None if stats_data is None else stats_data(),
                )
            ],
        )

    def _identity_fields(self) -> dict[str, Any]:
        """What every document repeats: name, id, version, metadata."""
        return self.ping_response().model_dump(exclude={"type"})


def new_service_id() -> str:
    return NUID().next().decode()
