"""The Task class every task uses: one error shape (an `error:` line and an exit code)."""

from __future__ import annotations

import os
import sys
from typing import Any

from invoke.exceptions import Exit
from invoke.tasks import Task

from service.operator_errors import OperatorError


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
