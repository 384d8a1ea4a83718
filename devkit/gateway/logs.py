"""What the gateway writes to its log: one line per event, with no token in it.

A token is a password for a NATS user. It can reach a log line inside a request line
(`?authorization=` on an event stream), an `Authorization` header, or an exception's message
that quotes either; every line is redacted at the formatter (service.logs.redact, shared by
every component), whoever logged it (aiohttp too),
and an exception is its type and first line, never a traceback per malformed request.
"""

from __future__ import annotations

import logging

from service.logs import output_handler, redact


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
    """Stdout, or LOG_FILE (the native stack): bounded, 0600 (service.logs.output_handler)."""
    logging.basicConfig(
        level=logging.INFO, handlers=[output_handler(OneLineFormatter())], force=True
    )
