"""Every JetStream publish the service makes: one event per answered request.

The reply is sent only after the stream acknowledged the event, so every answer is on record;
a stream that does not acknowledge within the budget makes the request a 503.

Why not `JetStreamContext.publish`: it is a full nats-py request per event (a new token, a
timer from `wait_for`, a `PubAck` object), a large share of the service's CPU under load
(docs/decisions.md). Here every event is a plain publish whose reply comes back on one wildcard
inbox the recorder subscribed once; one timer, armed for the oldest outstanding publish, fails
the ones the stream did not acknowledge in time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from datetime import UTC, datetime

import orjson
from nats.aio.client import NO_RESPONDERS_STATUS, Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import Error as NatsError
from nats.js.api import Header
from pydantic import JsonValue

from service import names
from service.faults import UnavailableError

log = logging.getLogger(__name__)


NO_RESPONDERS_WAIT_S = 0.25
"""How long a publish that met no responders waits before it is made again: nats.go's JetStream
publish (`DefaultPubRetryWait`), "to protect against small blips in leadership changes"."""
NO_RESPONDERS_RETRIES = 2
"""How many times it is made again (nats.go's `DefaultPubRetryAttempts`)."""


class AckFailure(Exception):
    """The stream did not store an event; `retryable` when trying again may succeed."""

    def __init__(self, reason: str, *, retryable: bool, no_responders: bool = False) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.no_responders = no_responders
        """No stream leader took the publish: none was subscribed to the subject just then."""


def balance_event(client_id: str, balance: int, service_id: str, served_at: datetime) -> bytes:
    return orjson.dumps(
        {
            "client_id": client_id,
            "balance": balance,
            "served_at": served_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "service_id": service_id,
        }
    )


def ack_failure(data: bytes, status: str | None) -> AckFailure | None:
    """None when the reply is a PubAck (a duplicate too: that event is already stored)."""
    if status == NO_RESPONDERS_STATUS:
        return AckFailure(
            "no stream captures the event subject", retryable=True, no_responders=True
        )
    if status:
        return AckFailure(f"the server answered with status {status}", retryable=True)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return AckFailure("the acknowledgement is not JSON", retryable=False)
    if not isinstance(document, dict):
        return AckFailure("the acknowledgement is not a JSON object", retryable=False)
    error = document.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        description = error.get("description") if isinstance(error, dict) else None
        return AckFailure(f"JetStream error {code}: {description}", retryable=code == 503)
    if "seq" not in document:
        return AckFailure("the acknowledgement has no sequence", retryable=False)
    return None


class PendingAcks:
    """Outstanding publishes by reply token, failed in deadline order by a single timer.

    Every publish waits the same time, so deadlines arrive in order and a FIFO queue is enough.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._futures: dict[str, asyncio.Future[None]] = {}
        self._deadlines: deque[tuple[float, str]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._futures)

    def expect(self, token: str) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._futures[token] = future
        deadline = loop.time() + self._timeout_s
        self._deadlines.append((deadline, token))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire)
        return future

    def settle(self, token: str, failure: BaseException | None) -> None:
        future = self._futures.pop(token, None)
        if future is None or future.done():
            return
        if failure is None:
            future.set_result(None)
        else:
            future.set_exception(failure)

    def older_than(self, token: int) -> list[asyncio.Future[None]]:
        """The outstanding publishes made before the one numbered `token`."""
        return [f for t, f in self._futures.items() if int(t) < token]

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, token = self._deadlines.popleft()
            self.settle(token, TimeoutError("no acknowledgement in time"))
        self._timer = loop.call_at(self._deadlines[0][0], self._expire) if self._deadlines else None


class EventRecorder:
    """Publishes balance events to the `customer-balances` stream and waits for the ack."""

    def __init__(
        self,
        nc: Client,
        service_id: str,
        *,
        ack_timeout_s: float,
        budget_s: float,
    ) -> None:
        self._nc = nc
        self._service_id = service_id
        self._budget_s = budget_s
        self._sequence = itertools.count(1)
        self._tokens = itertools.count(1)
        self._pending = PendingAcks(ack_timeout_s)
        self._inbox = ""
        """The reply prefix of every publish; empty until `start` subscribed to it."""
        self._moved_at = 0
        """The token of the first publish on the current connection (after a move)."""
        self.ack_wait_ns = 0
        """Total time answers spent waiting for their event's ack (retries and failures included):
        the share of processing time the stream's replication costs (docs/benchmarks.md)."""
        self.ack_waits = 0
        """How many answers waited for an ack, acknowledged or not."""

    async def start(self) -> None:
        inbox = self._nc.new_inbox() + "."
        await self._nc.subscribe(inbox + "*", cb=self._on_ack)
        self._inbox = inbox

    async def move_to(self, nc: Client) -> None:
        """Publish on `nc` from now on; the acks of publishes already made still come back to
        the old connection's inbox, which stays subscribed until that connection is drained."""
        inbox = nc.new_inbox() + "."
        await nc.subscribe(inbox + "*", cb=self._on_ack)
        self._nc, self._inbox = nc, inbox
        self._moved_at = next(self._tokens)

    async def settled(self) -> None:
        """Returns once every publish made before the last move is acknowledged or failed (each
        within the ack timeout): the old connection has nothing left to receive."""
        waiting = self._pending.older_than(self._moved_at)
        if waiting:
            await asyncio.wait(waiting)

    async def record_balance(self, client_id: str, balance: int) -> None:
        payload = balance_event(client_id, balance, self._service_id, datetime.now(UTC))
        # One id per answer, reused by every retry: the stream deduplicates a resend.
        headers = {
            Header.MSG_ID.value: f"{self._service_id}-{next(self._sequence)}",
            Header.EXPECTED_STREAM.value: names.STREAM_NAME,
        }
        subject = names.event_subject(client_id)
        started_ns = time.perf_counter_ns()
        try:
            await self._record(subject, payload, headers)
        finally:
            self.ack_wait_ns += time.perf_counter_ns() - started_ns
            self.ack_waits += 1

    def figures(self) -> dict[str, JsonValue]:
        """The ack wait figures `$SRV.STATS` adds to the endpoint's `data`."""
        return {"event_ack_wait_ns": self.ack_wait_ns, "event_ack_waits": self.ack_waits}

    async def _record(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        """Publish, and again on a retryable failure (`retry_wait`) within the budget, always
        with the same Nats-Msg-Id: if an earlier try was stored after all, the stream answers
        "duplicate" and the answer stands. UnavailableError when not stored."""
        loop = asyncio.get_running_loop()
        retries = 0
        given_up_at: float | None = None
        try:
            while True:
                try:
                    await self._publish(subject, payload, headers)
                    return
                except (AckFailure, TimeoutError) as error:
                    wait_s = retry_wait(error, retries)
                    given_up_at = given_up_at or loop.time() + self._budget_s
                    if wait_s is None or loop.time() + wait_s > given_up_at:
                        raise
                retries += 1
                await asyncio.sleep(wait_s)
        except (AckFailure, TimeoutError, NoRespondersError, ConnectionClosedError) as error:
            _unrecorded(subject, error, retries)
            raise UnavailableError("the event stream did not acknowledge the answer") from error
        except NatsError as error:
            _unrecorded(subject, error, retries)
            raise UnavailableError("the event could not be published") from error

    async def _publish(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        if not self._inbox:
            raise AckFailure("the recorder is not started", retryable=False)
        if not self._nc.is_connected:
            # nats-py would buffer the publish and send it after a reconnect: an event stored
            # for an answer that was a 503. Fail now instead, and publish nothing.
            raise AckFailure("NATS is disconnected", retryable=False)
        token = str(next(self._tokens))
        acknowledged = self._pending.expect(token)
        try:
            await self._nc.publish(subject, payload, reply=self._inbox + token, headers=headers)
        except BaseException:
            self._pending.settle(token, None)
            raise
        await acknowledged

    async def _on_ack(self, msg: Msg) -> None:
        token = msg.subject.rpartition(".")[2]  # from the current inbox, or the one before a move
        status = msg.headers.get(Header.STATUS.value) if msg.headers else None
        self._pending.settle(token, ack_failure(msg.data, status))


def retry_wait(error: BaseException, retries: int) -> float | None:
    """How long to wait before publishing again after `error`, having retried `retries` times;
    None: give up. No responders (no stream leader subscribed at that moment: an election, a
    leadership handed over or stepped down) is tried again twice after 250 ms, as nats.go's
    JetStream publish does; any other retryable failure (no ack in time, JetStream's own 503)
    once, at once: a second wait for an ack that did not come is the budget's to spend."""
    if isinstance(error, AckFailure) and error.no_responders:
        return NO_RESPONDERS_WAIT_S if retries < NO_RESPONDERS_RETRIES else None
    retryable = isinstance(error, TimeoutError) or (
        isinstance(error, AckFailure) and error.retryable
    )
    return 0.0 if retryable and retries == 0 else None


def _unrecorded(subject: str, error: BaseException, retries: int) -> None:
    """Why an answer became a 503: the reply says only that the event was not stored."""
    log.warning(
        "event.unacknowledged",
        extra={
            "subject": subject,
            "reason": str(error) or type(error).__name__,
            "retries": retries,
        },
    )
