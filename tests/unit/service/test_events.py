"""The event recorder's decisions: what an acknowledgement means, and when a wait gives up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, cast

import orjson
import pytest

from service.events import (
    NO_RESPONDERS_WAIT_S,
    AckFailure,
    EventRecorder,
    PendingAcks,
    ack_failure,
    balance_event,
    retry_wait,
)
from service.faults import UnavailableError

if TYPE_CHECKING:
    from nats.aio.client import Client


def test_the_event_document() -> None:
    served_at = datetime(2026, 11, 27, 21, 5, 3, 123456, tzinfo=timezone(timedelta(hours=2)))
    event = balance_event("678", 7120, "svc", served_at)
    assert orjson.loads(event) == {
        "client_id": "678",
        "balance": 7120,
        "served_at": "2026-11-27T19:05:03.123Z",
        "service_id": "svc",
    }
    assert b" " not in event


@pytest.mark.parametrize(
    "ack",
    [
        b'{"stream":"customer-balances","seq":17}',
        b'{"stream":"customer-balances","seq":17,"duplicate":true}',
    ],
)
def test_a_pub_ack_is_success(ack: bytes) -> None:
    assert ack_failure(ack, None) is None


@pytest.mark.parametrize(
    ("data", "status", "retryable", "says"),
    [
        (b"", "503", True, "no stream captures"),
        (b"", "408", True, "status 408"),
        (
            b'{"error":{"code":503,"err_code":10077,"description":"resource limits exceeded"}}',
            None,
            True,
            "503: resource limits exceeded",
        ),
        (
            b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}',
            None,
            False,
            "400: expected stream does not match",
        ),
        (b"not json", None, False, "not JSON"),
        (b"[1]", None, False, "not a JSON object"),
        (b'{"stream":"customer-balances"}', None, False, "no sequence"),
    ],
)
def test_a_refusal_says_why_and_whether_to_retry(
    data: bytes, status: str | None, retryable: bool, says: str
) -> None:
    failure = ack_failure(data, status)
    assert isinstance(failure, AckFailure)
    assert failure.retryable is retryable
    assert says in str(failure)


async def test_an_ack_settles_its_own_wait_only() -> None:
    pending = PendingAcks(timeout_s=1)
    first, second = pending.expect("1"), pending.expect("2")
    pending.settle("2", None)
    pending.settle("unknown", None)
    assert second.done()
    assert second.result() is None
    assert not first.done()
    pending.settle("1", AckFailure("refused", retryable=False))
    with pytest.raises(AckFailure):
        first.result()
    assert len(pending) == 0


async def test_waits_time_out_in_order_with_one_timer() -> None:
    pending = PendingAcks(timeout_s=0.05)
    early = pending.expect("1")
    await asyncio.sleep(0.03)
    late = pending.expect("2")
    answered = pending.expect("3")
    pending.settle("3", None)
    with pytest.raises(TimeoutError):
        await early
    assert not late.done()  # its deadline is 30 ms later
    with pytest.raises(TimeoutError):
        await late
    assert answered.result() is None
    assert len(pending) == 0


async def test_a_late_ack_after_the_timeout_is_ignored() -> None:
    pending = PendingAcks(timeout_s=0.01)
    waiting = pending.expect("1")
    with pytest.raises(TimeoutError):
        await waiting
    pending.settle("1", None)
    assert isinstance(waiting.exception(), TimeoutError)


async def test_a_waiter_that_gives_up_leaves_nothing_behind() -> None:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    pending = PendingAcks(timeout_s=0.01)
    waiting = pending.expect("1")
    waiting.cancel()
    await asyncio.sleep(0.03)
    assert len(pending) == 0
    assert errors == []


@dataclass
class Ack:
    subject: str
    data: bytes
    headers: dict[str, str] | None = None


NO_RESPONDERS = Ack("", b"", {"Status": "503"})
"""The server's answer to a publish no stream took: a 503 status, no body."""


class FakeNats:
    """Just what EventRecorder uses of a connection; `answer` decides each publish's ack (its
    body, or a whole message for a status)."""

    def __init__(self, answer: Callable[[int], bytes | Ack | None]) -> None:
        self.is_connected = True
        self.published: list[dict[str, str]] = []
        self._answer = answer
        self._on_ack: Callable[[Ack], Awaitable[None]] | None = None
        self.acks: set[asyncio.Future[None]] = set()

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: Callable[[Ack], Awaitable[None]]) -> None:
        self._on_ack = cb

    async def publish(
        self, subject: str, payload: bytes, reply: str, headers: dict[str, str]
    ) -> None:
        self.published.append(headers)
        ack = self._answer(len(self.published))
        if ack is not None and self._on_ack is not None:
            message = Ack(reply, ack.data, ack.headers) if isinstance(ack, Ack) else Ack(reply, ack)
            task = asyncio.ensure_future(self._on_ack(message))
            self.acks.add(task)
            task.add_done_callback(self.acks.discard)


async def recorder(nats: FakeNats) -> EventRecorder:
    events = EventRecorder(cast("Client", nats), "svc", ack_timeout_s=0.05, budget_s=1.0)
    await events.start()
    return events


async def test_while_disconnected_nothing_is_published_and_the_answer_fails_at_once() -> None:
    nats = FakeNats(lambda n: b'{"stream":"s","seq":1}')
    events = await recorder(nats)
    nats.is_connected = False
    started = asyncio.get_running_loop().time()
    with pytest.raises(UnavailableError):
        await events.record_balance("1", 5)
    assert asyncio.get_running_loop().time() - started < 0.04  # under one ack timeout
    assert nats.published == []


async def test_one_retry_exactly_with_the_same_message_id() -> None:
    nats = FakeNats(lambda n: None)  # no acknowledgement ever
    events = await recorder(nats)
    with pytest.raises(UnavailableError):
        await events.record_balance("1", 5)
    assert len(nats.published) == 2
    assert nats.published[0]["Nats-Msg-Id"] == nats.published[1]["Nats-Msg-Id"]


async def test_a_first_try_stored_after_all_is_confirmed_by_the_retry() -> None:
    duplicate = b'{"stream":"s","seq":1,"duplicate":true}'
    nats = FakeNats(lambda n: None if n == 1 else duplicate)
    events = await recorder(nats)
    await events.record_balance("1", 5)  # the answer stands: the stream holds the event
    assert len(nats.published) == 2


async def test_every_wait_for_an_ack_is_counted_acknowledged_or_not() -> None:
    acked = b'{"stream":"s","seq":1}'
    nats = FakeNats(lambda n: acked if n == 1 else None)  # the first acked, then never again
    events = await recorder(nats)
    assert events.figures() == {"event_ack_wait_ns": 0, "event_ack_waits": 0}
    await events.record_balance("1", 5)
    after_one = events.ack_wait_ns
    assert after_one > 0
    with pytest.raises(UnavailableError):
        await events.record_balance("2", 6)  # two timeouts of 50 ms each
    assert events.ack_waits == 2
    assert events.ack_wait_ns - after_one >= 2 * 50_000_000
    assert events.figures() == {"event_ack_wait_ns": events.ack_wait_ns, "event_ack_waits": 2}


def test_no_responders_is_tried_again_twice_after_a_wait_anything_else_once_at_once() -> None:
    nobody = ack_failure(b"", "503")
    assert nobody is not None
    assert nobody.no_responders
    assert [retry_wait(nobody, n) for n in range(3)] == [
        NO_RESPONDERS_WAIT_S,
        NO_RESPONDERS_WAIT_S,
        None,
    ]
    assert [retry_wait(TimeoutError(), n) for n in range(2)] == [0.0, None]
    refused = ack_failure(b'{"error":{"code":503,"description":"unavailable"}}', None)
    assert refused is not None
    assert not refused.no_responders
    assert [retry_wait(refused, n) for n in range(2)] == [0.0, None]
    assert retry_wait(AckFailure("not JSON", retryable=False), 0) is None


async def test_a_publish_that_met_no_responders_is_stored_once_a_leader_takes_it() -> None:
    acked = b'{"stream":"s","seq":1}'
    nats = FakeNats(lambda n: NO_RESPONDERS if n < 3 else acked)  # a leader after two blips
    events = await recorder(nats)
    started = asyncio.get_running_loop().time()
    await events.record_balance("1", 5)
    assert len(nats.published) == 3
    assert len({h["Nats-Msg-Id"] for h in nats.published}) == 1
    assert asyncio.get_running_loop().time() - started >= 2 * NO_RESPONDERS_WAIT_S


async def test_no_responders_three_times_is_a_503() -> None:
    nats = FakeNats(lambda n: NO_RESPONDERS)
    events = await recorder(nats)
    with pytest.raises(UnavailableError):
        await events.record_balance("1", 5)
    assert len(nats.published) == 3


async def test_the_waits_stay_inside_the_budget() -> None:
    nats = FakeNats(lambda n: NO_RESPONDERS)
    events = EventRecorder(cast("Client", nats), "svc", ack_timeout_s=0.05, budget_s=0.3)
    await events.start()
    with pytest.raises(UnavailableError):
        await events.record_balance("1", 5)
    assert len(nats.published) == 2  # a second wait would end past the budget
