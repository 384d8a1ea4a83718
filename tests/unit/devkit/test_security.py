from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from devkit import platform_names
from devkit.auth.jwt import decode_claims
from devkit.auth.natscli import NatsCliError, ensure_nats_cli
from devkit.auth.permissions import CLIENT_PERMISSIONS, SERVICE_PERMISSIONS, USERS
from devkit.auth.security import ensure_security


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_material_is_generated_once_with_private_files(tmp_path: Path) -> None:
    first = ensure_security(tmp_path)
    assert first.service_creds == tmp_path / "creds" / "service.creds"
    for secret in (first.service_creds, first.client_creds, tmp_path / "security" / "keys.json"):
        assert mode(secret) == 0o600
    second = ensure_security(tmp_path)
    assert second.account_jwts.keys() == first.account_jwts.keys()
    assert second.system_account == first.system_account


def test_the_application_account_requires_max_bytes(tmp_path: Path) -> None:
    material = ensure_security(tmp_path, account="TEAM")
    accounts = [decode_claims(token) for token in material.account_jwts.values()]
    [app] = [a for a in accounts if a["name"] == "TEAM"]
    assert app["nats"]["limits"]["tiered_limits"]["R1"]["max_bytes_required"] is True
    [system] = [a for a in accounts if a["name"] == platform_names.SYSTEM_ACCOUNT_NAME]
    assert "tiered_limits" not in system["nats"]["limits"]


def test_the_client_can_only_ask_and_discover() -> None:
    assert set(CLIENT_PERMISSIONS.publish) == {"customer.balance", "$SRV.>"}
    assert set(CLIENT_PERMISSIONS.subscribe) == {"_INBOX_client.>"}


def test_the_service_cannot_call_itself_or_touch_other_streams() -> None:
    assert "customer.balance" not in SERVICE_PERMISSIONS.publish
    assert "customer.balance q" in SERVICE_PERMISSIONS.subscribe
    assert not [s for s in SERVICE_PERMISSIONS.publish if s.endswith(("DELETE.>", "$JS.API.>"))]


def test_the_nats_cli_install_says_when_go_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither nats nor go to be found
    with pytest.raises(NatsCliError, match="Go is not on PATH"):
        ensure_nats_cli(tmp_path / "bin")


def test_an_admin_user_joins_a_stack_made_before_it_without_new_keys(tmp_path: Path) -> None:
    first = ensure_security(tmp_path)
    keys_path = tmp_path / "security" / "keys.json"
    seeds = json.loads(keys_path.read_text())
    del seeds["admin"]  # as written before the admin user existed
    keys_path.write_text(json.dumps(seeds))
    again = ensure_security(tmp_path)
    assert again.account_jwts.keys() == first.account_jwts.keys()  # same accounts: no restart
    admin = decode_claims(again.creds[platform_names.ADMIN_USER].read_text().split("\n")[1])
    assert admin["nats"]["pub"]["allow"] == [">"]
    assert mode(again.creds[platform_names.ADMIN_USER]) == 0o600
    assert platform_names.ADMIN_USER not in USERS  # never created in the cloud


def test_the_route_password_is_made_once_and_kept_with_the_seeds(tmp_path: Path) -> None:
    first = ensure_security(tmp_path)
    assert len(first.route.password) == 64
    assert first.route.password != ensure_security(tmp_path / "other").route.password
    assert ensure_security(tmp_path).route == first.route
    keys_path = tmp_path / "security" / "keys.json"
    assert json.loads(keys_path.read_text())["route_password"] == first.route.password
    assert mode(keys_path) == 0o600


def test_a_stack_made_before_the_route_password_gets_one_and_keeps_its_keys(
    tmp_path: Path,
) -> None:
    first = ensure_security(tmp_path)
    keys_path = tmp_path / "security" / "keys.json"
    seeds = json.loads(keys_path.read_text())
    del seeds["route_password"]  # as written before routes asked for one
    keys_path.write_text(json.dumps(seeds))
    again = ensure_security(tmp_path)
    assert again.route.password
    assert again.account_jwts.keys() == first.account_jwts.keys()
    assert mode(keys_path) == 0o600


def test_the_same_claims_are_issued_again_as_the_same_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_security(tmp_path)
    creds = first.service_creds.read_bytes()
    monkeypatch.setattr("devkit.auth.security.time.time", lambda: 4_000_000_000.0)  # much later
    again = ensure_security(tmp_path)
    # A second `up` (or `bench --replicas`) must not hand the Compose replicas new creds.
    assert again.service_creds.read_bytes() == creds
    assert again.operator_jwt == first.operator_jwt
    assert again.account_jwts == first.account_jwts


def test_changed_claims_are_issued_later_than_the_tokens_they_replace(tmp_path: Path) -> None:
    single = ensure_security(tmp_path)
    single_creds = single.service_creds.read_bytes()
    cluster = ensure_security(tmp_path, clustered=True)  # the R3 tier joins the account
    before = {decode_claims(t)["name"]: decode_claims(t) for t in single.account_jwts.values()}
    after = {decode_claims(t)["name"]: decode_claims(t) for t in cluster.account_jwts.values()}
    name = platform_names.APP_ACCOUNT_NAME
    assert "R3" in after[name]["nats"]["limits"]["tiered_limits"]
    # A resolver holding the single server's account JWT takes only a newer one as an update,
    # even when the change comes within the second.
    assert after[name]["iat"] > before[name]["iat"]
    assert cluster.service_creds.read_bytes() != single_creds
