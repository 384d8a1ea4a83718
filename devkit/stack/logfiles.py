"""The log files of the stack's processes on this machine: a component by its name or its
prefix (`balance` for every replica), once or following."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from devkit.stack.config import StackError
from devkit.stack.processes import tail
from devkit.stack.state import Component, StackState

FOLLOW_POLL_S = 0.2


def show_files(
    state: StackState,
    component: str | None,
    lines: int,
    *,
    follow: bool,
    out: TextIO = sys.stdout,
) -> None:
    chosen = select(state, component)
    for c in chosen:
        print(f"==> {c.log} <==\n{tail(Path(c.log), lines)}\n", file=out, flush=True)
    if follow:
        follow_files({c.name: Path(c.log) for c in chosen}, out)


def select(state: StackState, component: str | None) -> list[Component]:
    """All components, one by name, or every one whose name starts with `<prefix>-`."""
    if component is None:
        return list(state.components.values())
    if component in state.components:
        return [state.components[component]]
    chosen = [c for name, c in state.components.items() if name.startswith(f"{component}-")]
    if not chosen:
        known = ", ".join(state.components)
        raise StackError(f"no component {component!r}; known: {known} (or a prefix: balance)")
    return chosen


def follow_files(paths: dict[str, Path], out: TextIO) -> None:
    """Print lines as they are appended, prefixed by component, until interrupted (Ctrl-C)."""
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in paths.items()}
    try:
        while True:
            for name, path in paths.items():
                if not path.exists():
                    continue
                with path.open("rb") as file:
                    file.seek(offsets[name])
                    chunk = file.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offsets[name] += len(complete)
                for line in complete.decode(errors="replace").splitlines():
                    print(f"{name} | {line}", file=out, flush=True)
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        return
