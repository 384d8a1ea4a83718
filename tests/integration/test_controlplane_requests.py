"""What the twin does with a request body, as the real API would: every field the published
document declares is applied (and read back from the server), a field it does not declare is a
400 naming it, and bad names and sizes are a 400 before anything reaches the server;
concurrent creates of one name make one; and the reads of one team, one system and an
account's JetStream use."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.auth.jwt import decode_claims
from tests.support.commands import taken_port
from tests.support.gateway import HttpStack, http_stack
from tests.support.openapi import CheckedTransport, published_document

pytestmark = pytest.mark.integration

API = "/api/core/beta"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with http_stack("native", tmp_path_factory.mktemp("requests") / "stack") as running:
        yield running


@pytest.fixture
def http(stack: HttpStack) -> Iterator[httpx.Client]:
    """Raw HTTP to the twin, every answer judged against the document."""
    token = (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}{API}",
        headers={"Authorization": f"Bearer {token.strip()}"},
        transport=CheckedTransport(published_document()),
        timeout=30,
    ) as client:
        yield client


def system_of(http: httpx.Client) -> str:
    (team,) = http.get("/teams").json()["items"]
    (system,) = http.get(f"/teams/{team['id']}/systems").json()["items"]
    return str(system["id"])


def new_account(http: httpx.Client, name: str, **body: Any) -> dict[str, Any]:
    made = http.post(f"/systems/{system_of(http)}/accounts", json={"name": name, **body})
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    return answer


def refused(answer: httpx.Response, *words: str) -> None:
    assert answer.status_code == 400, answer.text
    for word in words:
        assert word in answer.json()["message"], answer.text


def test_documented_account_and_user_settings_are_applied(http: httpx.Client) -> None:
    account = new_account(
        http,
        "SETTINGS",
        jwt_settings={"tags": ["team:a"], "info_url": "https://example.com", "description": "d"},
    )
    nats_claims = decode_claims(account["jwt"])["nats"]
    assert nats_claims["tags"] == ["team:a"]
    assert nats_claims["info_url"] == "https://example.com"
    (group,) = http.get(f"/accounts/{account['id']}/account-sk-groups").json()["items"]
    settings = {"bearer_token": True, "allowed_connection_types": ["STANDARD"], "tags": ["x"]}
    user = http.post(
        f"/accounts/{account['id']}/nats-users",
        json={"name": "bearer", "sk_group_id": group["id"], "jwt_settings": settings},
    )
    assert user.status_code == 201, user.text
    user_claims = decode_claims(user.json()["jwt"])["nats"]
    assert {key: user_claims[key] for key in settings} == settings
    assert http.delete(f"/accounts/{account['id']}").status_code == 204


def test_documented_bucket_settings_reach_the_server(http: httpx.Client) -> None:
    account = new_account(http, "BUCKETS")
    config = {
        "bucket": "settings",
        "storage": "file",
        "max_bytes": 1024 * 1024,
        "max_age": 3_600_000_000_000,
        "compression": True,
        "metadata": {"owner": "tests"},
        "history": 5,
    }
    made = http.post(f"/accounts/{account['id']}/jetstream/kv-buckets", json=config)
    assert made.status_code == 201, made.text
    (listed,) = http.get(f"/accounts/{account['id']}/jetstream/kv-buckets").json()["items"]
    shown = listed["config"]  # read back from the server's STREAM.INFO
    assert shown["max_age"] == 3_600_000_000_000
    assert shown["compression"] is True
    assert shown["metadata"]["owner"] == "tests"
    assert shown["history"] == 5
    assert http.delete(f"/accounts/{account['id']}").status_code == 204


def test_a_field_the_document_does_not_declare_is_a_400_naming_it(http: httpx.Client) -> None:
    system = system_of(http)
    refused(http.post(f"/systems/{system}/accounts", json={"name": "X", "colour": "red"}), "colour")
    nested = {"name": "X", "jwt_settings": {"limits": {"disk": 1}}}
    refused(http.post(f"/systems/{system}/accounts", json=nested), "jwt_settings.limits.disk")
    not_emulated = {"name": "X", "workloads": True}
    refused(http.post(f"/systems/{system}/accounts", json=not_emulated), "workloads")
    names = [a["name"] for a in http.get(f"/systems/{system}/accounts").json()["items"]]
    assert "X" not in names


def test_bad_names_and_sizes_are_a_400_before_the_server(http: httpx.Client) -> None:
    system = system_of(http)
    for name in ("a.b", "a*", "a>", "a b"):
        refused(http.post(f"/systems/{system}/accounts", json={"name": name}), "name")
    huge = {"name": "HUGE", "jwt_settings": {"description": "x" * 900 * 1024}}
    refused(http.post(f"/systems/{system}/accounts", json=huge), "description")
    negative = {"name": "NEG", "user_jwt_expires_in_secs": -1}
    refused(http.post(f"/systems/{system}/accounts", json=negative), "user_jwt_expires_in_secs")

    account = new_account(http, "NAMES")
    (group,) = http.get(f"/accounts/{account['id']}/account-sk-groups").json()["items"]
    user = {"name": "u", "sk_group_id": group["id"], "jwt_expires_in_secs": -5}
    refused(http.post(f"/accounts/{account['id']}/nats-users", json=user), "jwt_expires_in_secs")
    bucket = {"bucket": "a.b c", "storage": "file"}
    refused(http.post(f"/accounts/{account['id']}/jetstream/kv-buckets", json=bucket), "bucket")
    started = time.monotonic()
    stream = {"name": "a.b", "subjects": ["ab"], "storage": "file", "max_bytes": 1024}
    refused(http.post(f"/accounts/{account['id']}/jetstream/streams", json=stream), "name")
    assert time.monotonic() - started < 1  # not a wait for a server that never answers
    assert http.delete(f"/accounts/{account['id']}").status_code == 204


def test_a_team_a_system_and_an_accounts_jetstream_use_are_served(http: httpx.Client) -> None:
    (team,) = http.get("/teams").json()["items"]
    assert http.get(f"/teams/{team['id']}").json()["name"] == team["name"]
    system = system_of(http)
    assert http.get(f"/systems/{system}").json()["id"] == system
    assert http.get("/systems/nowhere").status_code == 404
    account = new_account(http, "STATS")
    http.post(
        f"/accounts/{account['id']}/jetstream/kv-buckets",
        json={"bucket": "counted", "storage": "file", "max_bytes": 1024 * 1024},
    )
    stats = http.get(f"/accounts/{account['id']}/info").json()
    assert stats["JetStreamTier"]["streams"] == 1
    assert stats["tiers"]["R1"]["limits"]["max_storage"] > 0
    assert http.delete(f"/accounts/{account['id']}").status_code == 204
    without = new_account(http, "NOJS", jwt_settings={"limits": {"conn": 5}})
    assert http.get(f"/accounts/{without['id']}/info").json()["JetStreamTier"]["streams"] == 0
    assert http.delete(f"/accounts/{without['id']}").status_code == 204


def statuses_of_concurrent(http: httpx.Client, count: int, path: str, body: Any) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(lambda _: http.post(path, json=body), range(count)))
    return sorted(answer.status_code for answer in answers)


def test_concurrent_creates_of_one_name_make_exactly_one(http: httpx.Client) -> None:
    system = system_of(http)
    statuses = statuses_of_concurrent(http, 10, f"/systems/{system}/accounts", {"name": "RACE"})
    assert statuses == [201] + [400] * 9
    accounts = http.get(f"/systems/{system}/accounts").json()["items"]
    (account,) = [a for a in accounts if a["name"] == "RACE"]
    stream = {
        "name": "raced", "subjects": ["raced"], "storage": "file", "max_bytes": 1024 * 1024,
        "retention": "limits", "discard": "old", "num_replicas": 1,
    }  # fmt: skip
    path = f"/accounts/{account['id']}/jetstream/streams"
    assert statuses_of_concurrent(http, 4, path, stream) == [201, 400, 400, 400]
    assert len(http.get(path).json()["items"]) == 1
    assert http.delete(f"/accounts/{account['id']}").status_code == 204
