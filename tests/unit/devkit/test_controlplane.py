"""The control-plane client's plain parts: the token, Retry-After, and the one-line error."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx
import pytest

from devkit.controlplane.client import describe_failure, retry_after_s
from devkit.controlplane.token import TOKEN_VARIABLE, TokenError, read_token


def test_a_token_file_is_trimmed_and_wins_over_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  uat_from_file \n\n")
    assert read_token(path, {TOKEN_VARIABLE: "uat_env"}) == "uat_from_file"


def test_the_environment_then_the_fallback(tmp_path: Path) -> None:
    fallback = tmp_path / "twin-token"
    fallback.write_text("uat_twin\n")
    assert read_token(None, {TOKEN_VARIABLE: " uat_env\n"}, fallback=fallback) == "uat_env"
    assert read_token(None, {TOKEN_VARIABLE: "  "}, fallback=fallback) == "uat_twin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        (" \n", "is empty"),
        ("uat_a uat_b", "spaces or control characters"),
        ("uat_\x07bell", "spaces or control characters"),
    ],
)
def test_a_bad_token_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "token"
    path.write_text(text)
    with pytest.raises(TokenError, match=message):
        read_token(path, {})


def test_no_token_anywhere_says_where_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(TokenError) as missing:
        read_token(None, {}, fallback=tmp_path / "absent")
    assert "SYNADIA_TOKEN" in str(missing.value)
    assert "personal-access-tokens" in str(missing.value)
    assert missing.value.exit_code == 2
    with pytest.raises(TokenError, match="does not exist"):
        read_token(tmp_path / "absent", {})


def _response(retry_after: str | None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(429, headers=headers)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_s(_response("7")) == 7.0
    assert retry_after_s(_response(None)) is None
    assert retry_after_s(_response("soon")) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after_s(_response(later)) or 0) <= 30


def test_a_failure_is_one_line_with_status_hint_and_a_bounded_body() -> None:
    body = '{"error":\n  "' + "x" * 1000 + '"}'
    line = describe_failure("POST", "/api/core/beta/systems/S/accounts", 409, body)
    assert "\n" not in line
    assert line.startswith("POST /api/core/beta/systems/S/accounts: HTTP 409 (it already exists")
    assert len(line) < 450
    assert describe_failure("GET", "/p", 502, "").endswith("HTTP 502: (empty body)")
