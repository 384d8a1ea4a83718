"""A NATS connection that a paused server cannot silence: against a real nats-server, stopped
with SIGSTOP while a round trip waits, as a VM pause, a GC stall or a slow network does."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.msg import Msg
from nats.errors import FlushTimeoutError

from devkit.stack.servers import LaunchedNats, start_nats
from service.connection import LatePongClient, open_connection
from service.liveness import ConnectionWatch
from tests.support.servers import pause

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("a paused server's deadlines, measured in seconds"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LaunchedNats]:
    launched = start_nats(workdir=tmp_path / "nats")
    yield launched
    os.kill(launched.pid, signal.SIGCONT)
    launched.process.kill()
    launched.process.wait(timeout=10)


async def echo_responder(url: str) -> LatePongClient:
    nc = await open_connection(servers=[url], reconnect_time_wait=0.2, connect_timeout=1)

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    await nc.subscribe("echo", cb=echo)
    await nc.flush()
    return nc


async def answered_within(url: str, seconds: float) -> float:
    """Seconds until the responder answers again, asked by a fresh connection."""
    began = time.monotonic()
    asker = await nats.connect(url)
    try:
        while time.monotonic() - began < seconds:
            try:
                await asker.request("echo", b"hi", timeout=0.5)
                return time.monotonic() - began
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                await asyncio.sleep(0.1)
    finally:
        await asker.close()
    raise AssertionError(f"no answer within {seconds} s of the pause ending")


async def test_a_late_pong_leaves_the_connection_reading(server: LaunchedNats) -> None:
    """nats-py 2.16 alone: the PONG of a flush that timed out during the pause arrives after
    it, kills the read loop, and the connection answers nothing for minutes while it says
    connected. Here the same sequence costs nothing."""
    responder = await echo_responder(server.url)
    try:
        pause(server.pid)
        with pytest.raises(FlushTimeoutError):
            await responder.flush(timeout=1)
        await asyncio.sleep(1)
        os.kill(server.pid, signal.SIGCONT)
        assert await answered_within(server.url, 10) < 2
        assert responder.reading
    finally:
        await responder.close()


async def test_the_watch_tells_and_repairs_a_long_pause(server: LaunchedNats) -> None:
    """While the server is stopped the watch says why the connection cannot receive; once the
    silence outlasts its bound it reconnects, and once the server is back the connection
    answers within seconds, with no restart of anything."""
    responder = await echo_responder(server.url)
    watch = ConnectionWatch(responder, interval_s=1, reconnect_after_s=4)
    watch.start()
    try:
        await asyncio.sleep(1.5)
        assert watch.problem is None
        pause(server.pid)
        await asyncio.sleep(2.5)
        assert watch.problem is not None
        assert "NATS" in watch.problem
        # Long enough for the watch to give the connection up and try again.
        await asyncio.sleep(6)
        os.kill(server.pid, signal.SIGCONT)
        resumed = time.monotonic()
        answered_s = await answered_within(server.url, 10)
        while watch.problem is not None and time.monotonic() - resumed < 10:
            await asyncio.sleep(0.1)
        assert watch.problem is None
        assert responder.stats["reconnects"] >= 1  # the watch made it: nats-py would wait minutes
        print(f"answered {answered_s:.2f} s after the pause")
    finally:
        await watch.stop()
        await responder.close()


async def test_a_pause_shorter_than_the_bound_keeps_the_connection(server: LaunchedNats) -> None:
    """Nothing in flight is lost to a reconnect the pause did not need."""
    responder = await echo_responder(server.url)
    watch = ConnectionWatch(responder, interval_s=1, reconnect_after_s=8)
    watch.start()
    try:
        pause(server.pid)
        await asyncio.sleep(5)
        os.kill(server.pid, signal.SIGCONT)
        assert await answered_within(server.url, 10) < 2
        assert responder.stats["reconnects"] == 0
    finally:
        await watch.stop()
        await responder.close()


async def test_a_dead_read_loop_is_noticed_and_replaced(server: LaunchedNats) -> None:
    """Whatever kills the read loop next (another nats-py defect), the watch does not trust
    `is_connected`: it sees the loop gone and reconnects."""
    responder = await echo_responder(server.url)
    watch = ConnectionWatch(responder, interval_s=1)
    try:
        task = responder._reading_task
        assert task is not None
        task.cancel()
        await asyncio.sleep(0.1)
        assert responder.is_connected
        assert not responder.reading
        assert await watch.check() is not None
        watch.start()
        assert await answered_within(server.url, 10) < 5
    finally:
        await watch.stop()
        await responder.close()
