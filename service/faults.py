"""Coded faults a caller reads: a `ServiceFault` becomes a coded reply on the wire; anything
else a handler raises becomes a 500 without detail.

Errors a person reads are the other kind, kept apart: `service.operator_errors`.
"""

from __future__ import annotations


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
