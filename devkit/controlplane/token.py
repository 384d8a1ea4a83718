"""The personal access token: from a file or `SYNADIA_TOKEN`, trimmed, never printed.

The original read it from a fixed file, untrimmed, so a trailing newline broke the header.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from service.operator_errors import OperatorError

TOKEN_VARIABLE: Final = "SYNADIA_TOKEN"  # noqa: S105 - a variable's name
CREATE_TOKEN_AT: Final = "https://cloud.synadia.com/profile/personal-access-tokens"  # noqa: S105


class TokenError(OperatorError):
    exit_code = 2


def read_token(
    token_file: Path | None, environment: Mapping[str, str], *, fallback: Path | None = None
) -> str:
    """`token_file` if given, else `SYNADIA_TOKEN`, else `fallback` (the local twin's token)."""
    if token_file is not None:
        return _from_file(token_file)
    if environment.get(TOKEN_VARIABLE, "").strip():
        return _checked(environment[TOKEN_VARIABLE], TOKEN_VARIABLE)
    if fallback is not None and fallback.exists():
        return _from_file(fallback)
    raise TokenError(
        f"no control-plane token: set {TOKEN_VARIABLE} or pass --token-file PATH"
        f" (create a personal access token at {CREATE_TOKEN_AT})"
    )


def _from_file(path: Path) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TokenError(f"the token file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TokenError(f"cannot read the token file {path}: {error}") from None
    return _checked(text, str(path))


def _checked(text: str, source: str) -> str:
    token = text.strip()
    if not token:
        raise TokenError(f"the token in {source} is empty")
    if any(character.isspace() for character in token) or not token.isprintable():
        raise TokenError(f"the token in {source} holds spaces or control characters")
    return token
