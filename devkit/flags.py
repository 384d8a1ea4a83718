"""Command-line values, checked before anything else happens, with errors that name the flag.

Invoke converts `int` flags itself and shows a traceback for `--replicas abc`; the tasks take
numbers as text and read them here instead.
"""

from __future__ import annotations

import math
import re

from service.operator_errors import OperatorError


class FlagError(OperatorError):
    """A flag's value cannot be used; the message names the flag and what it takes."""

    exit_code = 2


def whole_number(flag: str, text: str, *, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise FlagError(f"{flag} takes a whole number, not {text!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise FlagError(f"{flag} must be {bound}, not {value}")
    return value


def positive_number(flag: str, text: str, *, unit: str) -> float:
    """A finite number greater than 0 (seconds, requests per second)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise FlagError(f"{flag} takes a number of {unit}, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise FlagError(f"{flag} must be a number of {unit} greater than 0, not {text.strip()}")
    return value


def optional_positive(flag: str, text: str, *, unit: str) -> float | None:
    """Empty means not given."""
    return positive_number(flag, text, unit=unit) if text.strip() else None


def replica_counts(flag: str, text: str) -> list[int]:
    """`1,3`: each a whole number of 1 or more."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise FlagError(f"{flag} takes replica counts such as 1,3, not {text!r}")
    return [whole_number(flag, part, minimum=1) for part in parts]


def non_empty(flag: str, text: str) -> str:
    if not text.strip():
        raise FlagError(f"{flag} must not be empty")
    return text.strip()


def environment_name(flag: str, text: str) -> str:
    """A Copilot environment name: it becomes part of SSM paths and stack names."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", text):
        raise FlagError(
            f"{flag} takes a Copilot environment name (lower-case letters, digits and '-',"
            f" starting with a letter), not {text!r}"
        )
    return text


def given(flag: str, value: str | bool, *, example: str) -> str:
    """A flag Invoke lets through bare (`--rate` with no value) is True: say what it takes."""
    if value is True:
        raise FlagError(f"{flag} takes a value, for example {flag} {example}")
    return "" if value is False else value
