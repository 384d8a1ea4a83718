"""The lame-duck handover's decisions: where a successor connects, and what counts as done."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

import pytest

from service.events import PendingAcks
from service.lame_duck import LameDuckNotice, address_of, successor_servers
from service.micro import Unanswered

if TYPE_CHECKING:
    from nats.aio.client import Client

CLUSTER = ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"]


def test_a_successor_avoids_the_server_leaving() -> None:
    assert successor_servers(CLUSTER, "127.0.0.1:4223") == [CLUSTER[0], CLUSTER[2]]


def test_a_single_server_is_kept_for_want_of_another() -> None:
    assert successor_servers(CLUSTER[:1], "127.0.0.1:4222") == CLUSTER[:1]


def test_an_unknown_server_leaving_changes_nothing() -> None:
    assert successor_servers(CLUSTER, None) == CLUSTER
    assert successor_servers(CLUSTER, "127.0.0.1:9999") == CLUSTER


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("nats://127.0.0.1:4222", "127.0.0.1:4222"),
        ("127.0.0.1:4222", "127.0.0.1:4222"),
        ("tls://nats.example:4222", "nats.example:4222"),
    ],
)
def test_an_address_is_host_and_port(url: str, address: str) -> None:
    assert address_of(url) == address


async def test_a_notice_is_kept_until_someone_waits() -> None:
    notice = LameDuckNotice()
    assert not notice.noticed
    await notice.received()  # what nats-py calls from its read loop
    assert notice.noticed
    await asyncio.wait_for(notice.wait(), 1)


def connection(name: str) -> Client:
    return cast("Client", object())


async def test_a_connection_is_answered_once_each_of_its_requests_is() -> None:
    old, new = connection("old"), connection("new")
    unanswered = Unanswered()
    unanswered.received(old)
    unanswered.received(old)
    unanswered.received(new)
    waiting = asyncio.create_task(unanswered.none_on(old))
    await asyncio.sleep(0)
    unanswered.settled(old)
    await asyncio.sleep(0)
    assert not waiting.done()
    unanswered.settled(old)
    await asyncio.wait_for(waiting, 1)
    # the new connection's request does not hold the old one, and is still counted
    still = asyncio.create_task(unanswered.none_on(new))
    await asyncio.sleep(0)
    assert not still.done()
    unanswered.settled(new)
    await asyncio.wait_for(still, 1)


async def test_a_connection_without_requests_is_answered_at_once() -> None:
    await asyncio.wait_for(Unanswered().none_on(connection("idle")), 1)


async def test_only_publishes_before_the_move_hold_the_old_connection() -> None:
    pending = PendingAcks(timeout_s=5)
    first, second, _after = (pending.expect(token) for token in ("1", "2", "3"))
    assert pending.older_than(3) == [first, second]
    for token in ("1", "2", "3"):
        pending.settle(token, None)
    assert pending.older_than(3) == []
