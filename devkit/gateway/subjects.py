"""What a caller may name: subjects, queue groups, buckets, keys and numeric parameters.

Refused with a 400 before anything reaches NATS: NATS would close the connection on some of
these (a space in a subject), and a gateway shared by many callers must not lose it.
"""

from __future__ import annotations

import re

from devkit.gateway.errors import GatewayError

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")
_BUCKET = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
MAX_SUBJECT = 512


def check_subject(subject: str, *, wildcards: bool) -> str:
    if not subject or len(subject) > MAX_SUBJECT or not _PRINTABLE.match(subject):
        raise GatewayError(400, f"invalid subject {subject[:80]!r}: printable ASCII, no spaces")
    parts = subject.split(".")
    if any(part == "" for part in parts):
        raise GatewayError(400, f"invalid subject {subject[:80]!r}: an empty token")
    for index, part in enumerate(parts):
        wild = part == "*" or (part == ">" and index == len(parts) - 1)
        if wild and not wildcards:
            raise GatewayError(400, f"invalid subject {subject[:80]!r}: no wildcards here")
        if not wild and ("*" in part or ">" in part):
            raise GatewayError(400, f"invalid subject {subject[:80]!r}: a misplaced wildcard")
    return subject


def check_name(kind: str, value: str) -> str:
    """A queue group or a bucket name."""
    if not _BUCKET.match(value) or len(value) > 255:
        raise GatewayError(400, f"invalid {kind} {value[:80]!r}: letters, digits, '-' and '_'")
    return value


def check_key(key: str) -> str:
    """A KV key becomes subject tokens (`$KV.<bucket>.<key>`): no empty token, as in a subject."""
    if not _KEY.match(key) or "" in key.split(".") or len(key) > 1024:
        raise GatewayError(
            400, f"invalid key {key[:80]!r}: letters, digits, '-/_=.', no empty token"
        )
    return key


def whole(name: str, text: str | None, *, default: int | None, low: int, high: int) -> int | None:
    """ASCII digits only: Python's int() would also take `1_000`, `+5`, ` 7` and Arabic digits."""
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        raise GatewayError(400, f"{name} must be a whole number, not {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise GatewayError(400, f"{name} must be from {low} to {high}, not {value}")
    return value


def flag(name: str, text: str | None) -> bool:
    """`true` or `false`, exactly, as the cloud documents them; anything else is a 400, never a guess
    (a `purge=TRUE` read as false would delete instead of purging)."""
    if text is None or text == "false":
        return False
    if text == "true":
        return True
    raise GatewayError(400, f"{name} must be true or false, not {text[:40]!r}")
