"""Liveness for Docker and ECS health checks (slim images have no curl): `python -m service.health`.

The service proves every few seconds that its NATS connection answers a round trip while it
accepts requests, and writes a heartbeat file; this command exits 0 only when that heartbeat is
fresh and its process is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nats.aio.client import Client

    from service.micro import MicroService
    from service.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_HEALTH_FILE = Path("/tmp/customer-service.health")  # noqa: S108 - one per container
STALE_AFTER_INTERVALS = 3


def write_heartbeat(path: Path, document: dict[str, Any]) -> None:
    """Atomic replace, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(document))
    temporary.replace(path)


def check_heartbeat(path: Path, *, now: float, interval_s: float) -> str | None:
    """None when healthy, otherwise the reason."""
    try:
        document = json.loads(path.read_text())
        at = float(document["at"])
        pid = int(document["pid"])
    except FileNotFoundError:
        return f"no heartbeat at {path}: the service is starting, stopped or not running"
    except (OSError, ValueError, KeyError, TypeError):
        return f"unreadable heartbeat at {path}"
    age = now - at
    if age > STALE_AFTER_INTERVALS * interval_s:
        return f"heartbeat is {age:.1f} s old: the service stopped answering"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"the service process {pid} is gone"
    except PermissionError:
        pass  # alive, owned by another user
    return None


class HealthReporter:
    """Writes the heartbeat while the service accepts requests and NATS answers a PING."""

    def __init__(self, nc: Client, service: MicroService, settings: Settings) -> None:
        self._nc = nc
        self._service = service
        self._path = settings.health_file
        self._interval = settings.health_interval_s
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            healthy = False
            if self._nc.is_connected and self._service.accepting:
                try:
                    await self._nc.flush(timeout=max(1, int(self._interval)))
                    healthy = True
                except Exception as error:  # any failure means unhealthy, never a crash
                    log.warning("health.flush_failed", extra={"error": str(error)})
            if healthy:
                write_heartbeat(
                    self._path,
                    {"pid": os.getpid(), "service_id": self._service.id, "at": time.time()},
                )
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> HealthReporter:
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


def main() -> None:
    path = Path(os.environ.get("HEALTH_FILE") or DEFAULT_HEALTH_FILE)
    interval = float(os.environ.get("HEALTH_INTERVAL_S") or 2.0)
    problem = check_heartbeat(path, now=time.time(), interval_s=interval)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        raise SystemExit(1)
    print("healthy")


if __name__ == "__main__":
    main()
