"""`invoke logs`: the native stack's log files, or Compose's logs in docker mode."""

from __future__ import annotations

from pathlib import Path

from devkit.stack import compose
from devkit.stack.config import StackConfig, StackError
from devkit.stack.processes import tail
from devkit.stack.state import StackState


def show_logs(config: StackConfig, component: str | None, lines: int) -> list[tuple[Path, str]]:
    """Docker mode prints through Compose and returns nothing; native returns (file, last lines)."""
    state = StackState.load(config.state_path)
    project = compose.project_of(state)
    if project is not None:
        project.show_logs(component, lines)
        return []
    return [(path, tail(path, lines)) for path in log_paths(state, component)]


def log_paths(state: StackState, component: str | None) -> list[Path]:
    if component is None:
        return [Path(c.log) for c in state.components.values()]
    if component not in state.components:
        known = ", ".join(state.components) or "none (the stack is not running)"
        raise StackError(f"no component {component!r}; known: {known}")
    return [Path(state.components[component].log)]
