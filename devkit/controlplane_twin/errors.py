"""The one failure the twin's handlers raise: an HTTP status and a message for the caller."""

from __future__ import annotations


class TwinError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
