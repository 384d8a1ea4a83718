"""Liveness and readiness from a heartbeat file (slim images have no curl).

The service proves every few seconds, from its first connect until it exits, that its NATS
connection answers a round trip through its read loop (service.liveness), and writes a heartbeat
with its phase (starting, which includes seeding; serving; stopping) and, when the round trip
failed, why it cannot receive requests. `python -m service.health` is liveness, what Docker and
ECS check: a fresh heartbeat of a live process, whatever the phase, so a long seed is never
mistaken for a hang. `python -m service.health --ready` also wants the phase to be serving and the last round trip
answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ValidationError

from service.liveness import ConnectionWatch
from service.settings import HealthSettings, SettingsError, describe_validation_error

if TYPE_CHECKING:
    from service.connection import LatePongClient

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3


Phase = Literal["starting", "serving", "stopping"]


class Heartbeat(BaseModel):
    """The heartbeat file's document."""

    pid: int
    service_id: str
    at: float
    """time.time() of the last successful NATS round trip."""
    phase: Phase = "serving"
    problem: str | None = None
    """Why the service cannot receive requests right now; None while it can."""


def write_heartbeat(path: Path, heartbeat: Heartbeat) -> None:
    """Atomic replace, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(heartbeat.model_dump_json())
    temporary.replace(path)


def check_heartbeat(
    path: Path, *, now: float, interval_s: float, ready: bool = False
) -> str | None:
    """None when alive (and, with `ready`, serving), otherwise the reason."""
    try:
        heartbeat = Heartbeat.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return f"no heartbeat at {path}: the service is starting, stopped or not running"
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        return f"unreadable heartbeat at {path}"
    age = now - heartbeat.at
    pid = heartbeat.pid
    if age > STALE_AFTER_INTERVALS * interval_s:
        why = heartbeat.problem or "the service stopped answering"
        return f"no NATS round trip for {age:.1f} s: {why}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"the service process {pid} is gone"
    except PermissionError:
        pass  # alive, owned by another user
    if ready and heartbeat.phase != "serving":
        return f"the service is alive but {heartbeat.phase}, not serving yet"
    if ready and heartbeat.problem:
        return f"the service cannot receive requests: {heartbeat.problem}"
    return None


class HealthReporter:
    """Writes the heartbeat every interval: the phase, the last answered round trip, the problem."""

    def __init__(self, nc: LatePongClient, settings: HealthSettings, service_id: str) -> None:
        self._watch = ConnectionWatch(
            nc, interval_s=settings.health_interval_s, name=f"service-{service_id}"
        )
        self._path = settings.health_file
        self._interval = settings.health_interval_s
        self._service_id = service_id
        self._task: asyncio.Task[None] | None = None
        self._phase: Phase = "starting"
        self._changed = asyncio.Event()
        self._leaving = False

    @property
    def phase(self) -> Phase:
        return self._phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        """A new phase is written at once, not up to an interval later: `invoke up` waits for
        the serving heartbeat (issue #27)."""
        self._phase = phase
        self._changed.set()

    def follow(self, nc: LatePongClient) -> None:
        """Prove `nc` from now on: the service moved to it (a lame-duck handover)."""
        self._watch.follow(nc)

    async def _beat(self) -> None:
        # Ends on `_leaving`, not only on the cancel: on 3.11 an `asyncio.wait_for` inside the
        # probe (ours, or nats-py's in `flush`) returns normally when its result and the cancel
        # land in the same turn, swallowing the cancellation, and `serve` never returned (a
        # replica still running a minute after SIGTERM, its last line `service.drained`).
        while not self._leaving:
            self._changed.clear()
            problem = await self._watch.check()
            write_heartbeat(
                self._path,
                Heartbeat(
                    pid=os.getpid(),
                    service_id=self._service_id,
                    at=self._watch.last_answer,
                    phase=self.phase,
                    problem=problem,
                ),
            )
            # Not asyncio.wait_for: on 3.11 it returns normally when the phase changes in the
            # same turn as the cancel from __aexit__ ("stopping" does both), swallowing the
            # cancellation, and the service never exits. asyncio.timeout keeps the two apart.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._changed.wait()

    async def __aenter__(self) -> HealthReporter:
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._leaving = True
        self._changed.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m service.health", description="Exit 0 when the service is alive."
    )
    parser.add_argument("--ready", action="store_true", help="also require it to be serving")
    arguments = parser.parse_args()
    try:
        settings = HealthSettings()
    except ValidationError as error:
        print(f"unhealthy: {describe_validation_error(error)}", file=sys.stderr)
        raise SystemExit(SettingsError.exit_code) from None
    problem = check_heartbeat(
        settings.health_file,
        now=time.time(),
        interval_s=settings.health_interval_s,
        ready=arguments.ready,
    )
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        raise SystemExit(1)
    print("healthy")


if __name__ == "__main__":
    main()
