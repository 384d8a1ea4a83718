from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import cast

from service.connection import LatePongClient
from service.health import HealthReporter, Heartbeat, check_heartbeat, write_heartbeat
from service.settings import HealthSettings


def test_fresh_heartbeat_of_a_live_process_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0))
    assert check_heartbeat(path, now=1001.0, interval_s=2) is None


def test_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0))
    assert "no NATS round trip for 10.0 s" in (
        check_heartbeat(path, now=1010.0, interval_s=2) or ""
    )


def test_missing_or_broken_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    assert "no heartbeat" in (check_heartbeat(tmp_path / "none", now=0, interval_s=2) or "")
    (tmp_path / "bad").write_text("{")
    assert "unreadable" in (check_heartbeat(tmp_path / "bad", now=0, interval_s=2) or "")


def test_dead_process_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "h"
    write_heartbeat(path, Heartbeat(pid=2**22 + 12345, service_id="s", at=1000.0))
    assert "gone" in (check_heartbeat(path, now=1000.5, interval_s=2) or "")


def test_a_replica_that_cannot_receive_is_alive_but_not_ready(tmp_path: Path) -> None:
    """Within one interval of a failed round trip: not serving, and why; liveness waits for
    the heartbeat to go stale (a pause of the server is not a reason to replace the task)."""
    path = tmp_path / "h"
    problem = "NATS did not answer a PING within 2 s"
    write_heartbeat(path, Heartbeat(pid=os.getpid(), service_id="s", at=1000.0, problem=problem))
    assert check_heartbeat(path, now=1001.0, interval_s=2) is None
    said = check_heartbeat(path, now=1001.0, interval_s=2, ready=True)
    assert said == f"the service cannot receive requests: {problem}"
    stale = check_heartbeat(path, now=1010.0, interval_s=2)
    assert stale == f"no NATS round trip for 10.0 s: {problem}"


class ClosedConnection:
    """A connection the watch finds closed: its probe answers at once, with no server."""

    is_closed = True


async def heartbeat_phase(path: Path, phase: str) -> None:
    while written_phase(path) != phase:
        await asyncio.sleep(0.01)


def written_phase(path: Path) -> str | None:
    if not path.exists():
        return None
    return Heartbeat.model_validate_json(path.read_text()).phase


async def test_a_new_phase_is_written_at_once_not_an_interval_later(tmp_path: Path) -> None:
    path = tmp_path / "h"
    settings = HealthSettings(health_file=path, health_interval_s=3600)
    async with HealthReporter(cast("LatePongClient", ClosedConnection()), settings, "s") as health:
        await asyncio.wait_for(heartbeat_phase(path, "starting"), timeout=30)
        health.phase = "serving"
        # Within the hour-long interval only if the change itself wrote it.
        await asyncio.wait_for(heartbeat_phase(path, "serving"), timeout=30)


async def test_stopping_right_after_a_phase_change_ends_the_heartbeat(tmp_path: Path) -> None:
    """The service sets "stopping" and soon leaves the reporter: the phase's wake-up and the
    cancel landing together must still end the heartbeat (else SIGTERM never ends the service)."""
    path = tmp_path / "h"
    settings = HealthSettings(health_file=path, health_interval_s=3600)
    for turns in range(6):  # the wake-up and the cancel, a few loop turns apart
        health = HealthReporter(cast("LatePongClient", ClosedConnection()), settings, "s")
        await health.__aenter__()
        await asyncio.wait_for(heartbeat_phase(path, "starting"), timeout=30)
        health.phase = "stopping"
        for _ in range(turns):
            await asyncio.sleep(0)
        await asyncio.wait_for(health.__aexit__(None, None, None), timeout=5)
        assert not path.exists()


class PongOnCancelConnection:
    """A live connection whose PONG the test sends in the same turn as the reporter's cancel:
    `asyncio.wait_for` (3.11; nats-py's `flush` uses it too) then returns the PONG and loses
    the cancel."""

    is_closed = False
    is_reconnecting = False
    is_connected = True
    reading = True

    def __init__(self) -> None:
        self.in_flush = asyncio.Event()
        self.pong = asyncio.Event()

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109 - nats-py's signature
        self.in_flush.set()
        with contextlib.suppress(asyncio.CancelledError):  # as nats-py's inner wait_for may
            await self.pong.wait()


async def test_a_cancel_lost_with_a_pong_still_ends_the_heartbeat(tmp_path: Path) -> None:
    """A replica logged `service.drained` and was still running a minute after SIGTERM: its
    heartbeat's round trip lost the cancel and the loop went on to wait for the next beat."""
    path = tmp_path / "h"
    settings = HealthSettings(health_file=path, health_interval_s=3600)
    connection = PongOnCancelConnection()
    health = HealthReporter(cast("LatePongClient", connection), settings, "s")
    await health.__aenter__()
    await asyncio.wait_for(connection.in_flush.wait(), timeout=30)
    connection.pong.set()
    leaving = asyncio.create_task(health.__aexit__(None, None, None))
    try:
        # Not wait_for: its own cancel of a stuck exit would end the heartbeat and pass.
        done, _ = await asyncio.wait({leaving}, timeout=5)
        assert leaving in done, "the heartbeat outlived the cancel: SIGTERM would not end it"
    finally:
        leaving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leaving
    assert not path.exists()
