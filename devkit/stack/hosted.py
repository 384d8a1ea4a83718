"""Processes of the stack on this machine (all of them in native mode, the twins in docker
mode): recorded in the state before they start, their pid the moment they exist, stopped
together within each one's drain budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from devkit.stack.backend import Change
from devkit.stack.processes import observing_launches, stop_processes
from devkit.stack.stack import Stack
from devkit.stack.state import Component

Planned = tuple[Component, Callable[[], object]]
"""A component to start: its record (no pid yet), and what starts it."""

STOP_GRACE_S = 5.0
"""A server (nats, moto, a twin) that has not exited this long after SIGTERM is killed."""


def start_all(stack: Stack, planned: Sequence[Planned], change: Change) -> None:
    """Start each in order, recorded before it starts."""
    for intent, start in planned:
        start_recorded(stack, intent, start, change)


def start_recorded(
    stack: Stack, intent: Component, start: Callable[[], object], change: Change
) -> None:
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
            start()
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
