"""One JSON object per line: time, level, service_id, event, fields; never a secret.

On stdout (what a container's runtime collects), or, with LOG_FILE (the native stack), in a
size-bounded file of mode 0600 that is also the process's stdout and stderr, so nothing the
process prints escapes the bound. Every line passes `redact` first.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service import names

LOG_FILE_VARIABLE = "LOG_FILE"
"""The environment variable naming a process's own log file (unset: stdout)."""

_SECRETS = (
    # HTTP gateway tokens and control-plane personal access tokens.
    (re.compile(r"\b(nhg|uat)_[A-Za-z0-9_-]{8,}"), r"\1_[redacted]"),
    # JWTs (user, account and operator claims), whole.
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
    # nkey seeds: S, the key type, 56 base32 characters.
    (re.compile(r"\bS[UAOCNPX][A-Z2-7]{56}\b"), "[redacted-seed]"),
    # A token in a query string, a header line or a printed mapping, whatever it looks like.
    (re.compile(r"(?i)(authorization=)[^&\s\"'\\]+"), r"\1[redacted]"),
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:,]\s*['\"]?)(?:bearer\s+)?[^\s'\",}&\\]+"),
        r"\1[redacted]",
    ),
    # A bearer token (RFC 6750's characters), not the English word before a short one.
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[redacted]"),
)


def redact(text: str) -> str:
    """`text` without anything that would let a reader of the log act as someone."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The plain `%(asctime)s %(message)s` lines of the platform's servers, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RotatingOutput(logging.handlers.RotatingFileHandler):
    """A log file bounded by size, created 0600, that is also file descriptors 1 and 2.

    After each rollover the new file takes over stdout and stderr, so a traceback or a
    library's print lands in the current file, not in one already rotated away."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = names.LOG_FILE_MAX_BYTES,
        backups: int = names.LOG_FILE_BACKUPS,
    ) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._take_over_output()

    def _open(self) -> io.TextIOWrapper:
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)  # a file left by an older run may be wider
        return open(descriptor, "a", encoding=self.encoding)

    def doRollover(self) -> None:
        super().doRollover()
        self._take_over_output()

    def _take_over_output(self) -> None:
        if self.stream is None:
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.dup2(self.stream.fileno(), 1)
        os.dup2(self.stream.fileno(), 2)


def output_handler(formatter: logging.Formatter) -> logging.Handler:
    """Where this process's log lines go: LOG_FILE when set, else stdout."""
    path = os.environ.get(LOG_FILE_VARIABLE)
    handler: logging.Handler = (
        RotatingOutput(Path(path)) if path else logging.StreamHandler(sys.stdout)
    )
    handler.setFormatter(formatter)
    return handler


_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service_id: str) -> None:
        super().__init__()
        self.service_id = service_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service_id": self.service_id,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Each text redacted on its own, before encoding: the line stays valid JSON.
        return json.dumps(_redacted(entry), default=str)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


def configure_logging(level: str, service_id: str) -> None:
    handler = output_handler(JsonFormatter(service_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (botocore debug dumps request bodies) stays out unless asked for.
    for noisy in ("botocore", "aiobotocore", "urllib3", "nats"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
