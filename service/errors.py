"""Coded faults a caller may see; everything else becomes a 500 without detail."""

from __future__ import annotations


class ServiceFault(Exception):
    """A failure with a code and a message fit to send to the caller."""

    code: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(ServiceFault):
    code = 400


class NotFoundError(ServiceFault):
    code = 404


class UnavailableError(ServiceFault):
    """A dependency (DynamoDB, the event stream) failed or throttled past our retries."""

    code = 503


class InternalError(ServiceFault):
    code = 500


INTERNAL_ERROR_MESSAGE = "internal error; the failure was logged by the service"
