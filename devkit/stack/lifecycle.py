"""`invoke up`, `down` and `status`, read top-down like a request: the lock, the stack handle
(configuration and state), the mode and its backend, the backend's start, the report.

Nothing here knows how a backend runs the stack; `backends.BACKENDS` maps each mode to one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from devkit.flags import FlagError
from devkit.stack import compose
from devkit.stack.backend import Backend, Change
from devkit.stack.backends import BACKENDS
from devkit.stack.capacity import check_replicas, machine_bound
from devkit.stack.config import StackConfig, StackError
from devkit.stack.lock import stack_lock
from devkit.stack.ownership import marking_children, owned_processes
from devkit.stack.processes import stop_processes, terminate_as_interrupt
from devkit.stack.replication import Replication, replication
from devkit.stack.report import ComponentStatus, JobStatus, OrphanStatus, StackStatus
from devkit.stack.stack import Stack, Wanted
from devkit.stack.state import DOCKER, NATIVE, Mode, StackState, component_order
from devkit.stack.stream import stream_usage

AUTO: Final = "auto"
MODES: Final = (AUTO, NATIVE, DOCKER)
INTERRUPTED_EXIT: Final = 130
"""As a shell reports a command ended by Ctrl-C (128 + SIGINT)."""


class Interrupted(StackError):
    """Ctrl-C or SIGTERM during `up` (or `bench`): the message says what runs now."""

    exit_code = INTERRUPTED_EXIT


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


@contextmanager
def lifecycle_command(config: StackConfig, command: str) -> Iterator[Stack]:
    """One command at a time per stack directory, SIGTERM ending it as Ctrl-C does, and
    every process it launches marked as this directory's."""
    with (
        stack_lock(config.root, command),
        terminate_as_interrupt(),
        marking_children(config.root),
        Stack.opened(config) as stack,
    ):
        yield stack


def up(
    config: StackConfig,
    *,
    replicas: int | None = None,
    mode: str | None = None,
    wait: bool = True,
    backends: Mapping[Mode, Backend] = BACKENDS,
) -> UpResult:
    """Converge on what is asked; `replicas` None keeps the running count (1 for a new stack)."""
    if replicas is not None and replicas < 1:
        raise StackError("--replicas must be at least 1")
    change = Change()
    try:
        with lifecycle_command(config, "up") as stack:
            return _up(stack, config, change, replicas, mode, wait, backends)
    except KeyboardInterrupt:
        # The state already holds every process started, and the replica count found.
        raise Interrupted(_interrupted(change)) from None


def _up(
    stack: Stack,
    asked: StackConfig,
    change: Change,
    replicas: int | None,
    mode: str | None,
    wait: bool,
    backends: Mapping[Mode, Backend],
) -> UpResult:
    if stack.other_configuration:
        raise StackError(
            f"the stack in {asked.root} runs with another configuration than asked:"
            f" {'; '.join(stack.other_configuration)}; stop it first (`invoke down`), or leave"
            " out the flag or variable to use the running stack"
        )
    found = stack.state.replica_count
    count = replicas or (found or 1 if stack.active else 1)
    check_replicas(count, machine_bound(running_replicas=len(stack.state.replicas())))
    chosen, reason = resolve_mode(mode or asked.mode, stack.state, compose.docker_problem)
    backend = backends[chosen]
    nats_names = tuple(node.name for node in stack.config.nats_nodes_list)
    backend.start(stack, Wanted(count, nats_names), change, wait=wait)
    stack.state.replica_count = count
    stack.save()
    return UpResult(change.started, change.stopped, count, _status(stack, backend), reason)


def _interrupted(change: Change) -> str:
    if not change.started:
        return "interrupted before anything started; the stack is as it was"
    return (
        f"interrupted: started {', '.join(change.started)}"
        + (f", stopped {', '.join(change.stopped)}" if change.stopped else "")
        + "; `invoke down` stops the stack, `invoke up` finishes starting it"
    )


def down(
    config: StackConfig, *, wipe: bool = False, backends: Mapping[Mode, Backend] = BACKENDS
) -> DownResult:
    """Stop what `up` started, and any process of this directory the state missed; keep
    data unless `wipe`."""
    with lifecycle_command(config, "down") as stack:
        result = backends[stack.state.mode].stop(stack, wipe=wipe)
        orphans = owned_processes(config.root)
        stop_processes(o.pid for o in orphans)
        result.stopped += [f"pid {o.pid} (not in the state)" for o in orphans]
        stack.forget()
        if wipe and config.root.exists():
            shutil.rmtree(config.root)
        return DownResult(result.stopped, result.warnings)


def status(config: StackConfig, backends: Mapping[Mode, Backend] = BACKENDS) -> StackStatus:
    with Stack.opened(config) as stack:
        return _status(stack, backends[stack.state.mode])


def _status(stack: Stack, backend: Backend) -> StackStatus:
    config, state = stack.config, stack.state
    components: list[ComponentStatus] = []
    jobs: list[JobStatus] = []
    if state.active:
        components, jobs = backend.components(stack)
    components.sort(key=lambda c: component_order(c.name))
    stream = None
    replicated: list[Replication] = []
    if state.active and config.service_creds.exists():
        stream = stack.run(stream_usage(config.nats_url, config.service_creds))
        if config.clustered:
            replicated = stack.run(replication(config.nats_url, config.service_creds))
    tracked = {c.pid for c in state.components.values()}
    orphans = [OrphanStatus.of(p) for p in owned_processes(config.root) if p.pid not in tracked]
    mode = state.mode if state.active else None
    return StackStatus.of(config, mode, components, jobs, stream, orphans, replicated)
