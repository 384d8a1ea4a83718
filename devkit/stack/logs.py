"""`invoke logs`: the running stack's logs, through the backend that runs it."""

from __future__ import annotations

from devkit.stack.backends import BACKENDS
from devkit.stack.config import StackConfig, StackError
from devkit.stack.stack import Stack


def show_logs(config: StackConfig, component: str | None, lines: int, *, follow: bool) -> None:
    with Stack.opened(config) as stack:
        if not stack.active:
            raise StackError(
                "the local stack is not running, so it has no logs to show (start it with:"
                f" invoke up); the last run's files are under {config.root}"
            )
        BACKENDS[stack.state.mode].show_logs(stack, component, lines, follow=follow)
