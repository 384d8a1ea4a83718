"""What the lifecycle asks of a way to run the stack: native processes or Docker Compose are
peers behind this one small interface, chosen once per command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.stack import Stack, Wanted


@dataclass
class Change:
    """What a start did, filled in as it happens: an interrupted start still tells."""

    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    """Replicas stopped for good (a smaller count), not the ones restarted."""


@dataclass
class Stopped:
    stopped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Backend(Protocol):
    def start(self, stack: Stack, wanted: Wanted, change: Change, *, wait: bool) -> None:
        """Converge on `wanted`, recording each process before it starts and saving the
        state; leave `change` empty when everything wanted runs."""

    def stop(self, stack: Stack, *, wipe: bool) -> Stopped:
        """Stop everything the state names, in parallel within each one's drain budget."""

    def components(self, stack: Stack) -> tuple[list[ComponentStatus], list[JobStatus]]:
        """Each component's status, and the one-shot jobs apart."""

    def show_logs(self, stack: Stack, component: str | None, lines: int, *, follow: bool) -> None:
        """The last `lines` of a component's log (a name, a prefix, or all), then new ones."""
