"""The stack's lock, its processes found by their owner mark, and the replica bound."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devkit.flags import FlagError
from devkit.stack import lock
from devkit.stack.capacity import REPLICA_MEMORY_BYTES, check_replicas, replica_bound
from devkit.stack.lock import StackBusy, stack_lock
from devkit.stack.ownership import marking_children, owned_processes
from devkit.stack.processes import launch, stop_processes

MB = 1024 * 1024


def test_a_second_holder_waits_saying_for_whom_then_gets_the_lock(tmp_path: Path) -> None:
    said: list[str] = []
    released = threading.Event()
    order: list[str] = []

    def second() -> None:
        with stack_lock(tmp_path, "down", say=said.append):
            order.append("second")

    with stack_lock(tmp_path, "up"):
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()  # still waiting while the first holds it
        order.append("first")
        released.set()
    waiter.join(timeout=10)
    assert order == ["first", "second"]
    assert said == [f"waiting for `invoke up` (pid {os.getpid()}) to finish with {tmp_path}"]


def test_a_second_holder_refuses_after_the_bounded_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock, "WAIT_S", 0.3)
    said: list[str] = []
    with (
        stack_lock(tmp_path, "up"),
        pytest.raises(StackBusy) as refused,
        stack_lock(tmp_path, "seed", say=said.append),
    ):
        pytest.fail("took a lock another holds")
    assert "`invoke up`" in str(refused.value)
    assert "`invoke seed` again" in str(refused.value)
    assert len(said) == 1


def test_a_lock_survives_the_directory_being_wiped_while_waiting(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    got: list[bool] = []

    def second() -> None:
        with stack_lock(root, "up", say=lambda _: None):
            got.append((root / lock.LOCK_FILE).exists())

    with stack_lock(root, "down"):
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.3)
        (root / lock.LOCK_FILE).unlink()  # what `down --wipe` does
    waiter.join(timeout=10)
    assert got == [True]


def test_processes_launched_for_a_stack_are_found_by_its_directory(tmp_path: Path) -> None:
    ours, other = tmp_path / "ours", tmp_path / "other"
    with marking_children(ours):
        mine = launch([sys.executable, "-c", "import time; time.sleep(60)"], log_path=ours / "a")
    with marking_children(other):
        theirs = launch([sys.executable, "-c", "import time; time.sleep(60)"], log_path=ours / "b")
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert [p.pid for p in owned_processes(ours)] == [mine.pid]
        assert [p.pid for p in owned_processes(other)] == [theirs.pid]
        assert "STACK_OWNER" not in os.environ
    finally:
        stop_processes([mine.pid, theirs.pid, plain.pid], grace_s=5)
        for process in (mine.process, theirs.process, plain):
            process.wait()


def test_the_replica_bound_is_the_smaller_of_cpu_and_memory_and_says_why() -> None:
    by_cpu = replica_bound(cpus=2, available_bytes=100 * 1024 * MB, running_replicas=0)
    assert by_cpu.limit == 32
    assert by_cpu.reason == "2 CPUs at 16 replicas per CPU"
    by_memory = replica_bound(
        cpus=64, available_bytes=10 * REPLICA_MEMORY_BYTES, running_replicas=5
    )
    assert by_memory.limit == 15  # the running replicas' memory stays theirs
    assert "MB of memory available" in by_memory.reason
    check_replicas(32, by_cpu)
    with pytest.raises(FlagError) as refused:
        check_replicas(33, by_cpu)
    assert refused.value.exit_code == 2
    assert str(refused.value) == (
        "--replicas 33 is more than this machine can run: at most 32"
        " (2 CPUs at 16 replicas per CPU)"
    )
