"""Which processes belong to a stack directory, whether or not its state file names them.

Every process a lifecycle command launches inherits `STACK_OWNER=<stack dir>` (set only
while the command runs), so an interrupt between a launch and the state's save cannot hide
one: `down` stops them and `status` reports them as orphans. nats-server and the twins also
name the directory on their command lines; the replicas and moto carry it in the environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

OWNER_VARIABLE: Final = "STACK_OWNER"
"""Set on every process of a stack to its directory; `StackConfig` ignores it (not a field)."""
PROC: Final = Path("/proc")


@dataclass(frozen=True)
class OwnedProcess:
    pid: int
    command: str


@contextlib.contextmanager
def marking_children(root: Path) -> Iterator[None]:
    """Every process launched inside carries the stack's directory in its environment."""
    before = os.environ.get(OWNER_VARIABLE)
    os.environ[OWNER_VARIABLE] = owner_value(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OWNER_VARIABLE, None)
        else:
            os.environ[OWNER_VARIABLE] = before


def owner_value(root: Path) -> str:
    return str(root.resolve())


def owned_processes(root: Path, *, proc: Path = PROC) -> list[OwnedProcess]:
    """Live processes of this stack directory (never this process), by pid."""
    wanted = f"{OWNER_VARIABLE}={owner_value(root)}".encode()
    found = []
    for entry in proc.iterdir() if proc.exists() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or someone else's
            continue
        if wanted in environment and command:
            found.append(OwnedProcess(int(entry.name), command.strip()))
    return sorted(found, key=lambda p: p.pid)
