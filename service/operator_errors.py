"""Errors a person reads: an `OperatorError` ends a command (the service refusing to start, a
task failing) with one line and an exit code, caught once at the top, never a traceback.

The other kind of failure, a coded fault a caller reads on the wire, is `service.faults`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class OperatorError(Exception):
    """The root of every error a person reads: its message says what to do instead.

    `exit_code` is 2 for configuration a person must change (as for a bad command line) and
    1 for everything else.
    """

    exit_code: int = 1


@contextmanager
def exit_on_operator_error() -> Iterator[None]:
    """For entry points: an OperatorError becomes one line on stderr and its exit code."""
    try:
        yield
    except OperatorError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
