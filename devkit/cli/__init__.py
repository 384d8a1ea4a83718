"""What `tasks.py` uses: one error shape for every task, the benchmark's short flags (-n and -c,
as the original's benchmark had them), and where `invoke events` reads."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar

from invoke.exceptions import Exit
from invoke.tasks import Task

from devkit.auth import contexts
from devkit.stack.running import running_config
from service.faults import OperatorError


class FriendlyTask(Task[Any]):
    """Every task: an OperatorError (or an OSError) is one `error:` line and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except BrokenPipeError:  # `invoke logs | head -1`: the reader has what it wanted
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, sys.stdout.fileno())  # else the interpreter's last flush complains
            raise Exit(code=0) from None
        except OperatorError as error:
            raise Exit(f"error: {error}", code=error.exit_code) from None
        except OSError as error:  # a file or process of the machine's, not a fault of ours
            raise Exit(f"error: {error}", code=1) from None


class BenchTask(FriendlyTask):
    """Invoke picks short flags by first letter; the benchmark keeps the original's -n and -c."""

    SHORT: ClassVar[dict[str, str]] = {"requests": "n", "concurrency": "c"}

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, object]:
        opts: dict[str, object] = super().arg_opts(
            name, default, taken_names | set(self.SHORT.values())
        )
        if name in self.SHORT:
            opts["names"] = [name, self.SHORT[name]]
        elif name == "http":  # -h would read as help
            opts["names"] = [name]
        return opts


def reader_target(context: str) -> tuple[str, Path | None]:
    """Where `invoke events` reads: a NATS CLI context, or the local stack's reader user."""
    if context:
        target = contexts.read_context(contexts.config_dir(os.environ), context)
        return target.url, target.creds
    config = running_config()
    return config.nats_url, config.reader_creds
