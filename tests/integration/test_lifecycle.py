"""Start-up and health: the health command, and a conflicting stream refused with its differences."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from nats.aio.client import Client
from nats.js.api import StorageType, StreamConfig

from service import names
from tests.support.commands import ROOT
from tests.support.replicas import ServiceFactory, ServiceProcess

pytestmark = pytest.mark.integration


def health(service: ServiceProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.health"],
        cwd=ROOT,
        env={**os.environ, "HEALTH_FILE": service.env["HEALTH_FILE"], "HEALTH_INTERVAL_S": "0.5"},
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
