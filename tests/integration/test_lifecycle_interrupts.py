"""The lifecycle never loses a process: `invoke up` interrupted at any moment of a cold start,
two `up` at once, a count the machine cannot run, another configuration than the running one.

Every process the stack starts names its directory (its command line or its STACK_OWNER);
after `invoke down` no process may name it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.commands import ROOT, invoke, stack_environment, taken_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.serial("interrupts at chosen moments of a cold start"),
]

STEPS_S = [round(0.2 * step, 1) for step in range(1, 26)]
"""Every 0.2 s through the first 5 s of a cold `invoke up`."""
STARTED_WITHIN_S = 60.0
"""A cold `up` starts its first server within seconds; a minute on the busiest machine."""


def processes_naming(root: Path) -> list[str]:
    """Live processes whose command line or environment names the stack directory."""
    named = str(root.resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if command and (named in command or named in environment):
            words = command.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {words}")
    return found


def interrupted_up(env: dict[str, str], after_s: float, signum: int) -> tuple[int, str]:
    """`invoke up` as a person runs it, sent `signum` after `after_s`; its exit code and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.wait(timeout=after_s)
    except subprocess.TimeoutExpired:
        process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def signalled_once_serving_starts(env: dict[str, str], signum: int) -> tuple[int, str]:
    """`invoke up` sent `signum` once it has started a server of the stack (a process other than
    `up` whose command line names the stack's directory): mid-start, whatever the machine's
    speed. After a fixed 2 s a loaded machine had not yet imported the task, and SIGTERM ended
    Python before `up` could handle it (exit -15, nothing said)."""
    root = str(Path(env["STACK_DIR"]).resolve())
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + STARTED_WITHIN_S
    while process.poll() is None and time.monotonic() < deadline:
        servers = [
            line
            for line in processes_naming(Path(root))
            if root in line.split(": ", 1)[1] and int(line.split(":")[0]) != process.pid
        ]
        if servers:
            process.send_signal(signum)
            break
        time.sleep(0.05)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.fixture
def native_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = stack_environment(tmp_path / "stack", "native")
    yield env
    invoke(env, "down", "--wipe")
    assert processes_naming(Path(env["STACK_DIR"])) == []


def test_sigint_at_every_step_of_a_cold_up_leaves_nothing_down_does_not_stop(
    native_env: dict[str, str],
) -> None:
    root = Path(native_env["STACK_DIR"])
    said = []
    for after_s in STEPS_S:
        code, err = interrupted_up(native_env, after_s, signal.SIGINT)
        if code == 130:
            said.append(err)
            assert err.startswith("error: interrupted"), (after_s, err)
        stopped = invoke(native_env, "down")
        assert stopped.returncode == 0, (after_s, stopped.stderr)
        assert processes_naming(root) == [], f"left running after an interrupt at {after_s} s"
        shutil.rmtree(root)  # the next start is cold again
    assert any("interrupted: started nats" in err for err in said), said  # mid-start, truly
    started = invoke(native_env, "up")
    assert started.returncode == 0, started.stderr


def test_sigterm_ends_up_like_ctrl_c(native_env: dict[str, str]) -> None:
    code, err = signalled_once_serving_starts(native_env, signal.SIGTERM)
    assert code == 130, err
    assert err.startswith("error: interrupted"), err
    assert "`invoke down`" in err
    status = invoke(native_env, "status", "--json")
    running = [c for c in json.loads(status.stdout)["components"] if c["running"]]
    assert "orphans" not in json.loads(status.stdout)  # everything started is recorded
    assert invoke(native_env, "down").returncode == 0
    assert processes_naming(Path(native_env["STACK_DIR"])) == [], running
    assert invoke(native_env, "up").returncode == 0


def test_two_ups_at_once_end_with_exactly_the_replicas_asked(native_env: dict[str, str]) -> None:
    ups = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", "up", "-r", "3"],
            cwd=ROOT,
            env=native_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=180), p.returncode) for p in ups]
    assert [code for _, code in results] == [0, 0], results
    assert any("waiting for `invoke up` (pid" in err for (_, err), _ in results), results
    report = json.loads(invoke(native_env, "status", "--json").stdout)
    tracked = {c["name"]: c["pid"] for c in report["components"]}
    assert sorted(n for n in tracked if n.startswith("balance-")) == [
        "balance-1",
        "balance-2",
        "balance-3",
    ]
    assert "orphans" not in report
    running = {int(line.split(":")[0]) for line in processes_naming(Path(native_env["STACK_DIR"]))}
    assert running == set(tracked.values())  # nothing untracked


def test_a_count_beyond_the_machine_is_refused_and_nothing_saved(
    native_env: dict[str, str],
) -> None:
    refused = invoke(native_env, "up", "-r", "100000")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("error: --replicas 100000 is more than this machine can run")
    assert not (Path(native_env["STACK_DIR"]) / "state.json").exists()
    assert processes_naming(Path(native_env["STACK_DIR"])) == []


def test_another_port_than_the_running_stack_is_reported(native_env: dict[str, str]) -> None:
    assert invoke(native_env, "up").returncode == 0
    moved = {**native_env, "STACK_NATS_PORT": "1"}  # never bound: the difference is refused first
    refused = invoke(moved, "up")
    assert refused.returncode == 1
    assert f"STACK_NATS_PORT={moved['STACK_NATS_PORT']}" in refused.stderr
    assert f"the running stack has {taken_port(native_env, 'STACK_NATS_PORT')}" in refused.stderr
    assert "nothing changed" in invoke(native_env, "up").stdout


def test_a_process_of_the_stack_the_state_missed_is_reported_and_stopped(
    native_env: dict[str, str],
) -> None:
    root = Path(native_env["STACK_DIR"])
    root.mkdir(parents=True)
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**native_env, "STACK_OWNER": str(root.resolve())},
        start_new_session=True,
    )
    try:
        status = invoke(native_env, "status")
        assert status.returncode == 1, status.stdout + status.stderr
        assert f"{stray.pid}" in status.stdout
        assert "invoke down" in status.stdout
        stopped = invoke(native_env, "down")
        assert stopped.returncode == 0, stopped.stderr
        assert f"pid {stray.pid} (not in the state)" in stopped.stdout
        assert stray.wait(timeout=10) is not None
        assert invoke(native_env, "status").returncode == 3
    finally:
        stray.kill()
        stray.wait()
