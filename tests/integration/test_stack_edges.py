"""The edges a person touches, through the real `invoke` commands: `up` that converges and
remembers, tasks that find the running stack from anywhere, clear words when nothing runs, a
degraded stack that says so, logs by prefix and following, and what a forced seed leaves."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.commands import ROOT, invoke, nats_components
from tests.support.servers import Provider

pytestmark = pytest.mark.integration


@pytest.fixture
def native_only(provider: Provider) -> None:
    if provider.name != "native":
        pytest.skip("native process bookkeeping; Compose converges its containers itself")


def components(env: dict[str, str]) -> dict[str, dict[str, object]]:
    report = json.loads(invoke(env, "status", "--json").stdout)
    return {c["name"]: c for c in report["components"]}


def replica_instance(env: dict[str, str], name: str) -> str:
    """What changes when a replica is restarted: its pid, or in docker mode its container's id."""
    pid = components(env)[name]["pid"]
    if pid:
        return str(pid)
    container = f"customer-balance-{name}"
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{.Id}}", container],
        capture_output=True,
        text=True,
        check=True,
    )
    return inspected.stdout.strip()


def test_up_converges_on_what_is_asked_and_remembers_it(
    stack_env: dict[str, str], native_only: None
) -> None:
    assert invoke(stack_env, "up", "-r", "3").returncode == 0
    again = invoke(stack_env, "up")
    assert again.returncode == 0, again.stderr
    assert "already running (3 replicas); nothing changed" in again.stdout
    assert "Started" not in again.stdout
    assert {"balance-1", "balance-2", "balance-3"} <= set(components(stack_env))

    smaller = invoke(stack_env, "up", "-r", "1")
    assert smaller.returncode == 0, smaller.stderr
    assert "Stopped: balance-2, balance-3" in smaller.stdout
    assert set(components(stack_env)) == {
        *nats_components(),
        "dynamodb",
        "gateway",
        "controlplane",
        "balance-1",
    }
    state = json.loads((Path(stack_env["STACK_DIR"]) / "state.json").read_text())
    assert state["replica_count"] == 1
    assert "nothing changed" in invoke(stack_env, "up").stdout
    assert invoke(stack_env, "status").returncode == 0

    forced = invoke(stack_env, "seed", "--force", "--rows", "5")
    assert forced.returncode == 0, forced.stderr
    assert "Seeded 5 rows (customers 1..5)." in forced.stdout
    assert "Customers 6..1000 of the earlier seed (1000 rows) remain" in forced.stdout

    # Long work shows progress: about 9 s here, a plain line every 5 s (not a terminal).
    large = invoke(stack_env, "seed", "--force", "--rows", "60000")
    assert large.returncode == 0, large.stderr
    steps = [line for line in large.stdout.splitlines() if line.startswith("  ")]
    assert steps, large.stdout
    assert re.fullmatch(r"  \d+/60000 rows \(\d+%\), [\d,]+ rows/s, about [\d,]+ s left", steps[0])
    assert large.stdout.splitlines()[-1].startswith("Seeded 60000 rows")


def test_tasks_talk_to_the_running_stack_from_anywhere(stack_env: dict[str, str]) -> None:
    relative = f"build/test-stack-{uuid.uuid4().hex[:8]}"  # the repository's, not the cwd's
    env = {**stack_env, "STACK_DIR": relative}
    try:
        assert invoke(env, "up").returncode == 0
        elsewhere = {**env, "STACK_NATS_PORT": "1"}  # an environment that names another port
        answer = invoke(elsewhere, "req", "678")
        assert answer.returncode == 0, answer.stderr
        assert set(json.loads(answer.stdout)) == {"balance"}
        from_docs = invoke(env, "status", cwd=ROOT / "docs")
        assert from_docs.returncode == 0, from_docs.stdout + from_docs.stderr
        assert "balance-1" in from_docs.stdout
    finally:
        invoke(env, "down", "--wipe")
    assert not (ROOT / relative).exists()


def test_without_a_stack_every_task_says_how_to_start_one(stack_env: dict[str, str]) -> None:
    for args in (("req", "678"), ("logs",), ("bench", "-n", "10"), ("seed",)):
        result = invoke(stack_env, *args)
        assert result.returncode == 1, args
        assert "invoke up" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    stopped = invoke(stack_env, "status")
    assert stopped.returncode == 3
    assert "not running" in stopped.stdout


def test_a_degraded_stack_says_so_and_logs_follow_by_prefix(
    stack_env: dict[str, str], native_only: None
) -> None:
    assert invoke(stack_env, "up", "-r", "2").returncode == 0
    both = invoke(stack_env, "logs", "-c", "balance", "-l", "1")
    assert both.returncode == 0, both.stderr
    assert both.stdout.count("==> ") == 2
    refused = invoke(stack_env, "logs", "-l", "0")
    assert refused.returncode == 2
    assert "--lines must be 1 or more" in refused.stderr

    log = Path(stack_env["STACK_DIR"]) / "logs" / "balance-1.log"
    follower = subprocess.Popen(
        [sys.executable, "-m", "invoke", "logs", "-c", "balance-1", "-l", "1", "--follow"],
        cwd=ROOT,
        env=stack_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        with log.open("a") as file:
            file.write("a line written while following\n")
        assert follower.stdout is not None
        deadline = time.monotonic() + 10
        seen = ""
        while "a line written while following" not in seen and time.monotonic() < deadline:
            seen += follower.stdout.readline()
        assert "balance-1 | a line written while following" in seen
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=10)

    os.kill(int(str(components(stack_env)["balance-2"]["pid"])), signal.SIGKILL)
    time.sleep(0.5)
    degraded = invoke(stack_env, "status")
    assert degraded.returncode == 1
    assert "degraded: balance-2 stopped" in degraded.stderr


def test_no_wait_returns_while_the_service_is_still_starting(
    stack_env: dict[str, str], native_only: None
) -> None:
    slow = {**stack_env, "STACK_SERVICE_SEED_ROWS": "2000000"}  # minutes of seeding
    started = time.monotonic()
    result = invoke(slow, "up", "--no-wait")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30  # the waiting `up` gives up only after 90 s
    replica = components(slow)["balance-1"]
    assert (replica["running"], replica["healthy"]) == (True, False)  # alive, not serving yet


def test_a_benchmark_says_what_its_figures_cannot_support(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    assert invoke(stack_env, "up").returncode == 0
    result_path = tmp_path / "bench.json"
    short = invoke(stack_env, "bench", "-n", "20", "-c", "5", "--json", str(result_path))
    assert short.returncode == 0, short.stdout + short.stderr
    assert "too short for steady figures" in short.stdout
    assert "cannot support a p99.9" in short.stdout
    assert "Not compared with the original's published figures" in short.stdout
    document = json.loads(result_path.read_text())
    assert document["target"] == "local"
    assert document["commit"]
    assert document["started_at"].endswith("Z")
    assert document["service_settings"]["max_concurrency"] == 1000
    assert document["warnings"]

    unkept = invoke(stack_env, "bench", "-n", "3000", "-c", "2", "--rate", "100000")
    assert "the target rate was not reached" in unkept.stdout

    remote_baseline = invoke(stack_env, "bench", "--server", "nats://127.0.0.1:1", "--baseline")
    assert remote_baseline.returncode == 2
    assert "--baseline measures the local stack" in remote_baseline.stderr


def test_a_benchmark_of_a_stack_that_cannot_answer_fails(stack_env: dict[str, str]) -> None:
    assert invoke(stack_env, "up").returncode == 0
    for name, component in components(stack_env).items():
        if not name.startswith("balance-"):
            continue
        if component["pid"]:
            os.kill(int(str(component["pid"])), signal.SIGKILL)
        else:  # docker mode: the replica's container
            subprocess.run(["docker", "kill", f"customer-balance-{name}"], check=True)
    result = invoke(stack_env, "bench", "-n", "20", "-c", "5", "--timeout", "1")
    assert result.returncode == 1
    assert "20 requests failed" in result.stderr
    assert "p50 n/a" in result.stdout


def test_a_benchmark_over_replica_counts_leaves_the_count_it_found(
    stack_env: dict[str, str],
) -> None:
    assert invoke(stack_env, "up").returncode == 0
    first = replica_instance(stack_env, "balance-1")
    benched = invoke(stack_env, "bench", "-n", "20", "-c", "5", "--replicas", "1,2")
    assert benched.returncode == 0, benched.stdout + benched.stderr
    assert "== 2 replica(s) ==" in benched.stdout
    replicas = [name for name in components(stack_env) if name.startswith("balance-")]
    assert replicas == ["balance-1"]
    # The replica that served before is the one left, never restarted or recreated: the bench
    # adds and removes replicas and hands none of them anything new (in Compose, new creds
    # made every container obsolete, and Compose then dropped balance-1 or balance-2 by chance).
    assert replica_instance(stack_env, "balance-1") == first
    assert "nothing changed" in invoke(stack_env, "up").stdout
