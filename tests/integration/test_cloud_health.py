"""After the README's cloud rehearsal (`cloud-up --api-url local`, then `cloud-down`) the local
stack is as healthy as before it: the deleted account leaves nothing the server keeps fetching."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, cloud_stack

pytestmark = pytest.mark.integration

ACCOUNT = "HEALTH"
FETCH_FAILED = "Account fetch failed"
"""nats-server's log line for an account it looked up and could not get."""
REFETCH_AFTER_S = 1.0
"""nats-server fetches an expired (deleted) account again only this long after its last try."""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[HttpStack]:
    with cloud_stack(tmp_path) as running:
        yield running


def nats_dir(stack: HttpStack) -> Path:
    return Path(stack.env["STACK_DIR"]) / "nats"


def healthz_seconds(stack: HttpStack) -> float:
    url = f"http://127.0.0.1:{taken_port(stack.env, 'STACK_NATS_MONITOR_PORT')}/healthz"
    started = time.monotonic()
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


def test_cloud_down_leaves_nats_healthy(stack: HttpStack) -> None:
    through = ("--account", ACCOUNT, "--api-url", "local")
    up = invoke(stack.env, "cloud-up", *through)
    assert up.returncode == 0, up.stdout + up.stderr
    down = invoke(stack.env, "cloud-down", *through)
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"- removed account {ACCOUNT}" in down.stdout
    deleted_at = time.monotonic()

    # The single server's health check looks up every account with a JetStream folder.
    held = {path.name.removesuffix(".jwt") for path in (nats_dir(stack) / "jwt").glob("*.jwt")}
    folders = {path.name for path in (nats_dir(stack) / "jetstream" / "jetstream").iterdir()}
    assert folders <= held, f"JetStream folders of accounts the server no longer holds: {folders}"

    status = invoke(stack.env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    timings = [healthz_seconds(stack)]
    while time.monotonic() - deleted_at < 2 * REFETCH_AFTER_S or len(timings) < 3:
        timings.append(healthz_seconds(stack))
    typical = statistics.median(timings)  # one call slowed by a busy machine is not the fault
    assert typical < 0.1, f"nats /healthz took {typical:.2f} s (median of {len(timings)} calls)"
    assert FETCH_FAILED not in (nats_dir(stack) / "nats.log").read_text(errors="replace")
