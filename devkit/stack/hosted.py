"""Processes of the stack on this machine (all of them in native mode, the twins in docker
mode): recorded in the state before they start, their pid the moment they exist, stopped
together within each one's drain budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from devkit.stack.backend import Change
from devkit.stack.processes import observing_launches, stop_processes
from devkit.stack.stack import Stack
from devkit.stack.state import Component

Planned = tuple[Component, Callable[[], object]]
"""A component to start: its record (no pid yet), and what starts it."""
Ready = Callable[[], object]
"""The rest of a start once its process exists: the wait until it serves."""
Launching = tuple[Component, Callable[[], Ready]]
"""A component to launch: its record, and what launches it and returns its wait."""

Started = TypeVar("Started")

STOP_GRACE_S = 5.0
"""A server (nats, moto, a twin) that has not exited this long after SIGTERM is killed."""


def start_all(stack: Stack, planned: Sequence[Planned], change: Change) -> None:
    """Start each in order, recorded before it starts."""
    for intent, start in planned:
        start_recorded(stack, intent, start, change)


def launch_all(stack: Stack, launching: Sequence[Launching], change: Change) -> list[Ready]:
    """Launch each in order, recorded before it starts; their waits, for the caller to run
    once it has launched what need not wait for them (their Python starts then overlap)."""
    return [start_recorded(stack, intent, launch, change) for intent, launch in launching]


def start_recorded(
    stack: Stack, intent: Component, start: Callable[[], Started], change: Change
) -> Started:
    """Record `intent` (no pid yet), then start it; the pid is saved as soon as it exists.

    An interrupt at any moment leaves a state naming the process, or no process at all.
    """
    stack.state.components[intent.name] = intent
    stack.save()

    def told(pid: int) -> None:
        stack.state.components[intent.name] = intent.model_copy(update={"pid": pid})
        stack.save()
        change.started.append(intent.name)

    try:
        with observing_launches(told):
            return start()
    finally:
        recorded = stack.state.components.get(intent.name)
        if recorded is not None and recorded.pid is None:  # interrupted before the launch
            del stack.state.components[intent.name]
            stack.save()


def stop_components(components: Iterable[Component], *, grace_s: float = STOP_GRACE_S) -> list[str]:
    """Stop those still running, all at once; their names."""
    running = [c for c in components if c.running()]
    stop_processes((c.pid for c in running if c.pid is not None), grace_s=grace_s)
    return [c.name for c in running]


def undo(stack: Stack, change: Change) -> None:
    """A start that failed stops what it started, so a failed `up` leaves nothing behind."""
    started = [stack.state.components.pop(n) for n in change.started if n in stack.state.components]
    stop_components(started)
    stack.save()
