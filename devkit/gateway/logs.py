"""What the gateway writes to its log: one line per event, with no token in it.

A token is a password for a NATS user. It can reach a log line inside a request line
(`?authorization=` on an event stream), an `Authorization` header, or an exception's message
that quotes either; every line is redacted at the formatter, whoever logged it (aiohttp too),
and an exception is its type and first line, never a traceback per malformed request.
"""

from __future__ import annotations

import logging
import re
import sys

REDACTED = "<redacted>"
_SECRETS = (
    re.compile(r"(?i)(authorization=)[^&\s'\"]*"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*['\"]?)(?:bearer\s+)?[^\s'\",}&]*"),
    re.compile(r"(?i)(bearer\s+)[^\s'\",}]+"),
    re.compile(r"()\b(?:nhg|uat)_[A-Za-z0-9_\-]+"),
)


def redact(text: str) -> str:
    """`text` with every token, `authorization` query value and Authorization header replaced."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda found: found.group(1) + REDACTED, text)
    return text


class OneLineFormatter(logging.Formatter):
    """Redacted, one line: an exception shows as `Type: first line of its message`."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            detail = (str(error).splitlines() or [""])[0][:300]
            line += f" ({type(error).__name__}: {detail})"
        return redact(line.replace("\n", " ").replace("\r", " "))


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
