"""The judge of the twin's answers can fail: it refuses what the published document does not
allow (a missing required field, an undeclared status, a wrong media type, an unknown path)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.openapi import published_document

TEAM = {"id": "T", "name": "local", "created": "2026-11-29T00:00:00Z"}


def _json(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_a_documented_answer_passes() -> None:
    document = published_document()
    document.check("GET", "/core/beta/teams", _json(200, {"items": [TEAM]}))
    document.check("DELETE", "/core/beta/accounts/A", httpx.Response(204))
    assert len(document.checked) == 2


@pytest.mark.parametrize(
    ("method", "path", "response", "complaint"),
    [
        ("GET", "/core/beta/teams", _json(200, {"items": [{"id": "T"}]}), "required"),
        ("GET", "/core/beta/teams", _json(200, {"items": [{**TEAM, "created": "today"}]}), "date"),
        ("GET", "/core/beta/teams", _json(409, {}), "may not answer 409"),
        ("POST", "/core/beta/nats-users/U/creds", _json(200, {}), "application/json not in"),
        ("GET", "/core/beta/nowhere", _json(200, {}), "not an operation"),
    ],
)
def test_an_undocumented_answer_fails(
    method: str, path: str, response: httpx.Response, complaint: str
) -> None:
    with pytest.raises(AssertionError, match=complaint):
        published_document().check(method, path, response)
