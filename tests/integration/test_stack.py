"""The native local stack through the real `invoke` commands a person types, on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.servers import free_port, process_alive
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "AWS_", "DDB_", "STACK_"))
    }
    env = {
        **clean,
        "STACK_DIR": str(tmp_path / "stack"),
        "STACK_NATS_PORT": str(free_port()),
        "STACK_NATS_MONITOR_PORT": str(free_port()),
        "STACK_DYNAMODB_PORT": str(free_port()),
    }
    yield env
    invoke(env, "down")  # never leave processes behind, even when a test fails


def invoke(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_req_status_down(stack_env: dict[str, str]) -> None:
    started = invoke(stack_env, "up", "--replicas", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "balance-2" in started.stdout

    found = invoke(stack_env, "req", "678")
    assert found.returncode == 0, found.stderr
    assert set(json.loads(found.stdout)) == {"balance"}

    missing = invoke(stack_env, "req", "999999")
    assert missing.returncode != 0
    assert "404" in missing.stderr

    report = json.loads(invoke(stack_env, "status", "--json").stdout)
    assert {"nats_url", "dynamodb_endpoint", "table", "components"} <= set(report)
    components = {c["name"]: c for c in report["components"]}
    assert set(components) == {"nats", "dynamodb", "balance-1", "balance-2"}
    assert all(c["healthy"] for c in components.values())
    pids = [c["pid"] for c in components.values()]

    again = invoke(stack_env, "up", "--replicas", "2")
    assert again.returncode == 0
    assert "nothing changed" in again.stdout
    assert [
        c["pid"] for c in json.loads(invoke(stack_env, "status", "--json").stdout)["components"]
    ] == pids

    seeded = invoke(stack_env, "seed")
    assert "Already seeded" in seeded.stdout, seeded.stdout + seeded.stderr
    reseeded = invoke(stack_env, "seed", "--force", "--rows", "50")
    assert reseeded.returncode == 0
    assert "Seeded 50 rows" in reseeded.stdout

    logs = invoke(stack_env, "logs", "-c", "balance-1")
    assert '"event": "service.ready"' in logs.stdout

    stopped = invoke(stack_env, "down")
    assert stopped.returncode == 0
    assert not [pid for pid in pids if process_alive(pid)]
    assert json.loads(invoke(stack_env, "status", "--json").stdout)["components"] == []


def test_a_busy_port_is_a_clear_error_and_starts_nothing(stack_env: dict[str, str]) -> None:
    busy = int(stack_env["STACK_DYNAMODB_PORT"])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", busy))
        holder.listen()
        result = invoke(stack_env, "up")
    assert result.returncode == 1
    assert f"port {busy}" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(invoke(stack_env, "status", "--json").stdout)["components"] == []
