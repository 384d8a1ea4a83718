"""One lifecycle command at a time per stack directory: `up`, `down` and `seed` hold a lock.

Without it two `invoke up -r 3` started together both launch replicas and one state file
tracks half of them. The lock is `fcntl.flock` on `<stack dir>/lock`: the kernel releases it
when the holder exits, however it exits, so a killed `up` never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from devkit.stack.config import StackError

LOCK_FILE: Final = "lock"
WAIT_S: Final = 180.0
"""How long a second command waits: longer than a cold `up` of the largest allowed stack."""
POLL_S: Final = 0.1


class StackBusy(StackError):
    """Another lifecycle command held the stack's lock for longer than we wait."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stack_lock(
    root: Path,
    command: str,
    *,
    say: Callable[[str], None] = _stderr,
) -> Iterator[None]:
    """Hold the stack's lock for `command`; wait (saying so once) while another holds it."""
    path = root / LOCK_FILE
    deadline = time.monotonic() + WAIT_S
    while True:
        root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _acquire(descriptor, path, command, deadline, say)
        except BaseException:
            os.close(descriptor)
            raise
        if _still_the_file(descriptor, path):
            break
        os.close(descriptor)  # `down --wipe` deleted the directory while we waited
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()} {command}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _acquire(
    descriptor: int, path: Path, command: str, deadline: float, say: Callable[[str], None]
) -> None:
    told = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(path)
        if not told:
            say(f"waiting for `invoke {holder[1]}` ({holder[0]}) to finish with {path.parent}")
            told = True
        if time.monotonic() >= deadline:
            raise StackBusy(
                f"`invoke {holder[1]}` ({holder[0]}) still holds {path} after {WAIT_S:g} s;"
                f" let it finish (or stop it), then run `invoke {command}` again"
            )
        time.sleep(POLL_S)


def _still_the_file(descriptor: int, path: Path) -> bool:
    try:
        return os.fstat(descriptor).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _holder(path: Path) -> tuple[str, str]:
    """Who holds the lock, as its holder wrote it: ("pid N", "up")."""
    try:
        pid, _, command = path.read_text().strip().partition(" ")
    except OSError:
        return "pid unknown", "up/down/seed"
    return (f"pid {pid}" if pid else "pid unknown"), (command or "up/down/seed")
