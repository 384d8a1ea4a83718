"""Start-up and health: the health command, and a conflicting stream refused with its differences."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from nats.aio.client import Client
from nats.js.api import StorageType, StreamConfig

from service import names
from tests.support.commands import ROOT
from tests.support.replicas import ServiceFactory, ServiceProcess

pytestmark = pytest.mark.integration


def health(service: ServiceProcess, *flags: str) -> subprocess.CompletedProcess[str]:
    interval = service.env.get("HEALTH_INTERVAL_S", "0.5")
    return subprocess.run(
        [sys.executable, "-m", "service.health", *flags],
        cwd=ROOT,
        env={
            **os.environ,
            "HEALTH_FILE": service.env["HEALTH_FILE"],
            "HEALTH_INTERVAL_S": interval,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_health_command_follows_the_service(start_service: ServiceFactory) -> None:
    service = start_service()
    assert health(service).returncode == 0
    assert service.terminate() == 0
    after = health(service)
    assert after.returncode == 1
    assert "unhealthy" in after.stderr


def test_a_seed_longer_than_the_health_check_window_is_alive_throughout(
    start_service: ServiceFactory,
) -> None:
    """ECS replaces a task whose health check fails 3 times; seeding takes as long as it takes.
    Alive (liveness) from the first connect; ready only once serving."""
    interval = 0.2  # a heartbeat older than 0.6 s is unhealthy
    service = start_service(wait=False, SEED_ROWS="20000", HEALTH_INTERVAL_S=str(interval))
    deadline = time.monotonic() + 60
    while not service.health_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    first_heartbeat = time.monotonic()
    samples = []
    while time.monotonic() < deadline:
        alive, ready = health(service), health(service, "--ready")
        samples.append((time.monotonic() - first_heartbeat, alive.returncode, ready.returncode))
        if ready.returncode == 0:
            break
    assert all(alive == 0 for _, alive, _ in samples), samples
    seeding = [at for at, _, ready in samples if ready != 0]
    assert seeding, samples
    assert seeding[-1] > 3 * interval, samples  # longer than the check's window, and alive
    assert samples[-1][2] == 0, "it ends up serving"
    assert service.events_named("seed.done")[0]["rows"] == 20000


async def test_a_stream_with_other_settings_is_refused_not_replaced(
    start_service: ServiceFactory, nc: Client
) -> None:
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(
            name=names.STREAM_NAME,
            subjects=list(names.STREAM_SUBJECTS),
            storage=StorageType.MEMORY,
            max_bytes=1024,
        )
    )
    service = start_service(wait=False)
    assert service.process.wait(timeout=30) == 1
    output = service.log_path.read_text()
    assert "storage: is memory, want file" in output
    assert "max_bytes: is 1024, want 10485760" in output
    info = await js.stream_info(names.STREAM_NAME)
    assert info.config.max_bytes == 1024
