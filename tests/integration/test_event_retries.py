"""A publish no stream took (the server's no-responders status: no leader subscribed at that
moment, as in an election or a leader handing over) is made again after a wait, as nats.go's
JetStream publish does, and stored once a stream takes it (docs/testing.md, node faults)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError

from service import names
from service.bootstrap import desired_stream
from service.events import EventRecorder

pytestmark = pytest.mark.integration


class Watched:
    """The recorder's connection, counting its publishes; `answered` is set once the first
    answer to one (an acknowledgement or a status) has been handled."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self.publishes = 0
        self.answered = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nc, name)

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        await self._nc.publish(*args, **kwargs)
        self.publishes += 1

    async def subscribe(self, subject: str, cb: Callable[[Msg], Awaitable[None]]) -> Subscription:
        async def handled(msg: Msg) -> None:
            await cb(msg)
            self.answered.set()

        return await self._nc.subscribe(subject, cb=handled)


async def test_an_event_no_stream_took_is_stored_once_a_stream_takes_it(nc: Client) -> None:
    js = nc.jetstream()
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(names.STREAM_NAME)
    watched = Watched(nc)
    recorder = EventRecorder(cast("Client", watched), "svc", ack_timeout_s=1.0, budget_s=2.0)
    await recorder.start()
    recording = asyncio.create_task(recorder.record_balance("7", 70))
    await watched.answered.wait()  # no responders: no stream captures the subject yet
    await js.add_stream(desired_stream(1))  # a leader again, after the recorder has been told
    await recording  # no UnavailableError: a later try was stored
    assert watched.publishes > 1  # made again (the first met no stream), and not in vain
    assert (await js.stream_info(names.STREAM_NAME)).state.messages == 1
