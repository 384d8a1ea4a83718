"""`invoke up`, `down` and `status`, read top-down like a request: configuration, mode, security
material, the chosen backend (native processes or Compose), readiness, report."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from devkit.auth.security import ensure_security
from devkit.flags import FlagError
from devkit.stack import compose, native
from devkit.stack.config import StackConfig, StackError
from devkit.stack.processes import ensure_free
from devkit.stack.readiness import wait_until_answering
from devkit.stack.report import ComponentStatus, JobStatus, StackStatus
from devkit.stack.running import current_config, record
from devkit.stack.state import (
    DOCKER,
    HOST_TWINS,
    NATIVE,
    Mode,
    StackState,
    component_order,
    replica_name,
)
from devkit.stack.stream import stream_usage
from devkit.stack.twins import start_host_twin

AUTO: Final = "auto"
MODES: Final = (AUTO, NATIVE, DOCKER)


@dataclass(frozen=True)
class UpResult:
    started: list[str]
    stopped: list[str]
    replicas: int
    status: StackStatus
    mode_reason: str

    @property
    def already_running(self) -> bool:
        return not self.started and not self.stopped


@dataclass(frozen=True)
class DownResult:
    stopped: list[str]
    warnings: list[str] = field(default_factory=list)


def resolve_mode(
    requested: str, state: StackState, docker_problem: Callable[[], str | None]
) -> tuple[Mode, str]:
    """The mode, and why: the one already running, else docker when an engine and its compose
    plugin answer (auto), else native."""
    if requested not in MODES:
        raise FlagError(f"--mode must be one of {', '.join(MODES)}, not {requested!r}")
    if state.active:
        if requested not in (AUTO, state.mode):
            raise StackError(
                f"the {state.mode} stack is running; stop it with `invoke down` before"
                f" starting it with --mode {requested}"
            )
        return state.mode, f"the {state.mode} stack is running"
    if requested == NATIVE:
        return NATIVE, "--mode native"
    problem = docker_problem()
    if requested == AUTO:
        if problem is None:
            return DOCKER, "auto: a Docker engine and its compose plugin answer"
        return NATIVE, f"auto: {problem}"
    if problem is not None:
        raise StackError(
            f"--mode docker needs a Docker engine with the compose plugin, and {problem};"
            " start Docker (or install its compose plugin), or use --mode native (no Docker needed)"
        )
    return DOCKER, "--mode docker"


def up(
    config: StackConfig,
    *,
    replicas: int | None = None,
    mode: str | None = None,
    wait: bool = True,
) -> UpResult:
    """Converge on what is asked; `replicas` None keeps the running count (1 for a new stack)."""
    state = StackState.load(config.state_path)
    if state.active:
        config = current_config(config)  # a running stack keeps its ports
    count = replicas if replicas is not None else (state.replica_count or 1) if state.active else 1
    if count < 1:
        raise StackError("--replicas must be at least 1")
    chosen, reason = resolve_mode(mode or config.mode, state, compose.docker_problem)
    if chosen == NATIVE:
        change = native.start(config, state, replicas=count, wait=wait)
        return UpResult(change.started, change.stopped, count, status(config), reason)

    if not state.active:  # a running Compose stack holds these ports itself
        ensure_free(config.nats_port, "nats")
        ensure_free(config.dynamodb_port, "DynamoDB")
        ensure_free(config.gateway_port, "HTTP gateway")
        ensure_free(config.controlplane_port, "control-plane twin")
    material = ensure_security(config.root, account=config.account)
    environment = compose.compose_environment(config, replicas=count)
    if state.compose_env is not None and compose.same_inputs(Path(state.compose_env), environment):
        current = status(config)
        wanted = {"nats", "dynamodb", *HOST_TWINS, *(replica_name(i) for i in range(1, count + 1))}
        if {c.name for c in current.components if c.healthy} == wanted:
            return UpResult([], [], count, current, reason)
    env_file = compose.write_inputs(config.root, material, environment)
    project = compose.ComposeProject(state.compose_project or config.project, env_file)
    # Saved before Compose runs: a run that fails half-way leaves a stack `down` can remove.
    docker_state = StackState(
        mode=DOCKER,
        compose_env=str(env_file),
        compose_project=project.name,
        recorded=record(config),
        replica_count=count,
        components={k: v for k, v in state.components.items() if k in HOST_TWINS},
    )
    docker_state.save(config.state_path)
    project.run("up", "--detach", "--build", "--wait")
    started = [f"docker compose ({count} replicas)"]
    for twin in HOST_TWINS:
        running = docker_state.components.get(twin)
        if running is None or not running.running():
            docker_state.components[twin] = start_host_twin(config, twin)
            docker_state.save(config.state_path)
            started.append(twin)
    if wait:
        wait_until_answering(config, docker_state)
    return UpResult(started, [], count, status(config), reason)


def down(config: StackConfig, *, wipe: bool = False) -> DownResult:
    """Stop what `up` started (replicas first); keep data unless `wipe`.

    Always leaves the stack stopped as far as this machine can tell: when Docker cannot run
    `compose down`, no container of ours can be running either, and the state is forgotten;
    `wipe` removes the local data whatever Docker says.
    """
    state = StackState.load(config.state_path)
    stopped: list[str] = []
    warnings: list[str] = []
    project = compose.project_of(state)
    if project is not None:
        problem = compose.docker_problem()
        if problem is not None:
            warnings.append(f"{problem}: no container of the stack can be running; forgot it")
        else:
            try:
                project.run("down", *(["--volumes"] if wipe else []))
                stopped.append("docker compose stack")
            except compose.ComposeError as error:
                if not wipe:
                    raise
                warnings.append(f"{error}; deleting the local state anyway (--wipe)")
    stopped += native.stop(state)
    config.state_path.unlink(missing_ok=True)
    if wipe and config.root.exists():
        shutil.rmtree(config.root)
    return DownResult(stopped, warnings)


def status(config: StackConfig) -> StackStatus:
    state = StackState.load(config.state_path)
    components: list[ComponentStatus] = []
    jobs: list[JobStatus] = []
    project = compose.project_of(state)
    if project is not None:
        components, jobs = project.components(config)
    components += [ComponentStatus.of(c) for c in state.components.values()]
    components.sort(key=lambda c: component_order(c.name))
    stream = None
    if state.active and config.service_creds.exists():
        stream = asyncio.run(stream_usage(config.nats_url, config.service_creds))
    mode = state.mode if state.active else None
    return StackStatus.of(config, mode, components, jobs, stream)
