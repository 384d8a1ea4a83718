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


BUCKET = {"bytes": 0, "id": "X", "num_values": 0, "stream_name": "KV_b"}


def test_a_map_the_document_declares_holds_any_key() -> None:
    config = {"bucket": "b", "storage": "file", "metadata": {"owner": "me"}}
    published_document().check(
        "GET", "/core/beta/jetstream/kv-bucket/X", _json(200, {**BUCKET, "config": config})
    )


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/core/beta/teams", {"items": [TEAM], "total": 1}, "/total"),
        ("/core/beta/teams", {"items": [{**TEAM, "server_urls": "x"}]}, "/items/0/server_urls"),
        (
            "/core/beta/jetstream/kv-bucket/X",
            {**BUCKET, "config": {"bucket": "b", "storage": "file", "mirror_direct": False}},
            "/config/mirror_direct",
        ),
    ],
)
def test_a_property_the_document_does_not_declare_fails(
    path: str, body: object, where: str
) -> None:
    with pytest.raises(AssertionError, match=f"does not declare: \\['{where}'\\]"):
        published_document().check("GET", path, _json(200, body))
