"""The two kinds of failure, kept apart: coded faults a caller reads, and errors a person reads.

A `ServiceFault` becomes a coded reply on the wire; anything else a handler raises becomes a
500 without detail. An `OperatorError` ends a command (the service refusing to start, a task
failing) with one line and an exit code, caught once at the top, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ServiceFault(Exception):
    """A failure with a code and a message fit to send to the caller."""

    code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def stats_text(self) -> str:
        """What `$SRV.STATS` may show to anyone allowed to ask: nothing of one caller's request."""
        return self.message


class BadRequestError(ServiceFault):
    code = 400


class NotFoundError(ServiceFault):
    code = 404

    @property
    def stats_text(self) -> str:
        return "no customer with that client_id"


class UnavailableError(ServiceFault):
    """A dependency (DynamoDB, the event stream) failed or throttled past our retries."""

    code = 503


class InternalError(ServiceFault):
    code = 500


INTERNAL_ERROR_MESSAGE = "internal error; the failure was logged by the service"


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
