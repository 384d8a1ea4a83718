"""Faults of whole processes: the DynamoDB emulator restarted empty under a running stack, and
the seeding replica killed mid-seed while three replicas start."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from devkit import platform_names
from devkit.stack.processes import port_in_use
from devkit.stack.servers import start_moto, start_nats
from service import names
from tests.chaos.conftest import report
from tests.support.commands import invoke, taken_port
from tests.support.replicas import ServiceProcess, kill_all, launch_service
from tests.support.servers import Dynamo

pytestmark = pytest.mark.chaos


def pid_of(env: dict[str, str], component: str) -> int:
    report_ = json.loads(invoke(env, "status", "--json").stdout)
    (pid,) = [c["pid"] for c in report_["components"] if c["name"] == component]
    return int(pid)


def test_dynamodb_restarted_empty(stack_env: dict[str, str], tmp_path: Path) -> None:
    """While the table is missing the caller gets 503 (not 404: the customer may well exist),
    and `invoke up` brings the stack back, reseeded, with no manual step."""
    assert invoke(stack_env, "up").returncode == 0
    port = taken_port(stack_env, "STACK_DYNAMODB_PORT")
    os.kill(pid_of(stack_env, "dynamodb"), signal.SIGKILL)
    _wait_for(lambda: not port_in_use(port), "the killed emulator's port to close")
    empty = start_moto(workdir=tmp_path / "empty", port=port)  # back, with nothing in it
    try:
        missing = invoke(stack_env, "req", "678")
        assert missing.returncode == 1
        assert missing.stderr.strip() == "error 503: the balance store is unavailable; try again"
    finally:
        empty.process.kill()
        empty.process.wait(timeout=10)

    began = time.monotonic()
    again = invoke(stack_env, "up")
    recovered_s = time.monotonic() - began
    assert again.returncode == 0, again.stdout + again.stderr
    answer = invoke(stack_env, "req", "678")
    assert answer.returncode == 0, answer.stderr
    assert set(json.loads(answer.stdout)) == {"balance"}
    endpoint = f"http://{names.LOCAL_HOST}:{port}"
    assert Dynamo(endpoint=endpoint).count(platform_names.DEFAULT_TABLE) == 1000  # reseeded
    report("dynamodb-restarted-empty", {"invoke_up_s": round(recovered_s, 2)})


def test_the_seeder_killed_mid_seed(tmp_path: Path) -> None:
    """Three replicas start on an empty table; the one that claimed the seed is killed -9
    mid-seed; another takes over once the claim is stale, and the table ends with exactly
    the rows asked for."""
    rows, stale_s = 30_000, 3
    nats = start_nats(workdir=tmp_path / "nats")  # on ports they choose
    moto = start_moto(workdir=tmp_path)
    dynamo = Dynamo(endpoint=moto.endpoint)
    table = f"balances-{uuid.uuid4().hex[:8]}"
    dynamo.create_table(table)
    env = {
        "NATS_URL": nats.url,
        "DDB_TABLE": table,
        "AWS_ENDPOINT_URL": dynamo.endpoint,
        "AWS_REGION": names.DEFAULT_REGION,
        "SEED_ROWS": str(rows),
        "SEED_CLAIM_TIMEOUT_S": str(stale_s),
    }
    replicas = [launch_service(tmp_path, f"replica-{n}", env) for n in (1, 2, 3)]
    try:
        seeder = _the_seeder(replicas)
        _wait_for(lambda: dynamo.count(table) > 0, "rows being written")
        seeder.process.kill()
        killed_at = time.monotonic()
        survivors = [r for r in replicas if r is not seeder]
        for replica in survivors:
            replica.wait_ready(timeout_s=120)
        recovered_s = time.monotonic() - killed_at
        assert dynamo.count(table) == rows
        takers = [r for r in survivors if r.events_named("seed.started")]
        assert len(takers) == 1
        report(
            "seeder-killed",
            {
                "rows": rows,
                "claim_stale_after_s": stale_s,
                "all_serving_after_s": round(recovered_s, 2),
            },
        )
    finally:
        kill_all(replicas)
        for launched in (nats, moto):
            launched.process.kill()
            launched.process.wait(timeout=10)


def _the_seeder(replicas: list[ServiceProcess]) -> ServiceProcess:
    found: list[ServiceProcess] = []

    def one_claimed() -> bool:
        found[:] = [r for r in replicas if r.events_named("seed.started")]
        return bool(found)

    _wait_for(one_claimed, "a replica to claim the seed")
    (seeder,) = found
    return seeder


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
