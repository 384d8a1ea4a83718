"""`invoke up`, `down` and `status`, read top-down like a request: configuration, mode, security
material, the chosen backend (native processes or Compose), readiness, report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devkit.auth.security import ensure_security
from devkit.stack import compose, native
from devkit.stack.config import StackConfig, StackError
from devkit.stack.readiness import wait_until_answering
from devkit.stack.report import ComponentStatus, StackStatus
from devkit.stack.state import DOCKER, NATIVE, Mode, StackState

AUTO: Final = "auto"
MODES: Final = (AUTO, NATIVE, DOCKER)


@dataclass(frozen=True)
class UpResult:
    already_running: bool
    started: list[str]
    status: StackStatus


def resolve_mode(requested: str, state: StackState, engine: Callable[[], bool]) -> Mode:
    """auto: the mode already running, else docker when an engine answers, else native."""
    if requested not in MODES:
        raise StackError(f"--mode must be one of {', '.join(MODES)}, not {requested!r}")
    if state.active:
        if requested not in (AUTO, state.mode):
            raise StackError(
                f"the {state.mode} stack is running; stop it with `invoke down` before"
                f" starting it with --mode {requested}"
            )
        return state.mode
    if requested == AUTO:
        return DOCKER if engine() else NATIVE
    if requested == NATIVE:
        return NATIVE
    if not engine():
        raise StackError(
            "--mode docker needs a Docker engine, and `docker info` got no answer;"
            " start Docker, or use --mode native (no Docker needed)"
        )
    return DOCKER


def up(config: StackConfig, *, replicas: int = 1, mode: str = AUTO, wait: bool = True) -> UpResult:
    """Start what is not running; when everything already runs, change nothing."""
    if replicas < 1:
        raise StackError("--replicas must be at least 1")
    state = StackState.load(config.state_path)
    if resolve_mode(mode, state, compose.engine_available) == NATIVE:
        started = native.start(config, state, replicas=replicas)
        if started is None:
            return UpResult(already_running=True, started=[], status=status(config))
        return UpResult(already_running=False, started=started, status=status(config))

    material = ensure_security(config.root, account=config.account)
    environment = compose.compose_environment(config, replicas=replicas)
    env_file = compose.write_inputs(config.root, material, environment)
    # Saved before Compose runs: a run that fails half-way leaves a stack `down` can remove.
    StackState(mode=DOCKER, compose_env=str(env_file)).save(config.state_path)
    compose.run_compose(env_file, "up", "--detach", "--build", "--wait")
    if wait:
        wait_until_answering(config, StackState.load(config.state_path))
    return UpResult(
        already_running=False,
        started=[f"docker compose ({replicas} replicas)"],
        status=status(config),
    )


def down(config: StackConfig, *, wipe: bool = False) -> list[str]:
    """Stop what `up` started (replicas first); keep data unless `wipe`."""
    state = StackState.load(config.state_path)
    stopped = []
    if state.compose_env is not None:
        compose.run_compose(Path(state.compose_env), "down", *(["--volumes"] if wipe else []))
        stopped.append("docker compose stack")
    stopped += native.stop(state)
    config.state_path.unlink(missing_ok=True)
    if wipe and config.root.exists():
        shutil.rmtree(config.root)
    return stopped


def status(config: StackConfig) -> StackStatus:
    state = StackState.load(config.state_path)
    components: list[ComponentStatus] = []
    if state.compose_env is not None:
        components = compose.components(Path(state.compose_env))
    components += [ComponentStatus.of(c) for c in state.components.values()]
    return StackStatus.of(config, state.mode if state.active else None, components)
