"""Redaction keeps a JSON log line valid and ordinary words intact."""

from __future__ import annotations

import json
import logging

import pytest

from service.logs import JsonFormatter, redact

TOKEN = "nhg_" + "Q9" * 20


@pytest.mark.parametrize(
    "fields",
    [
        {"path": f'/x?authorization={TOKEN}"&y=1'},
        {"header": f'Bearer {TOKEN}"'},
        {"mapping": {"Authorization": TOKEN, "nested": [f"authorization={TOKEN}\\"]}},
        {"error": ValueError(f"bad line: GET /?authorization={TOKEN}")},
    ],
)
def test_a_json_line_stays_valid_and_holds_no_token(fields: dict[str, object]) -> None:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "request", None, None)
    record.__dict__.update(fields)
    line = JsonFormatter("s").format(record)
    assert TOKEN not in line
    assert json.loads(line)["event"] == "request"


def test_plain_words_are_left_alone() -> None:
    for text in ("Bearer of news", "authorization denied", "see the authorization section"):
        assert redact(text) == text
