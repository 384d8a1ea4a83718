from __future__ import annotations

import stat
from pathlib import Path

from devkit.auth.jwt import decode_claims
from devkit.auth.permissions import CLIENT_PERMISSIONS, SERVICE_PERMISSIONS
from devkit.auth.security import ensure_security
from service import names


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
    [system] = [a for a in accounts if a["name"] == names.SYSTEM_ACCOUNT_NAME]
    assert "tiered_limits" not in system["nats"]["limits"]


def test_the_client_can_only_ask_and_discover() -> None:
    assert set(CLIENT_PERMISSIONS.publish) == {"customer.balance", "$SRV.>"}
    assert set(CLIENT_PERMISSIONS.subscribe) == {"_INBOX.>"}


def test_the_service_cannot_call_itself_or_touch_other_streams() -> None:
    assert "customer.balance" not in SERVICE_PERMISSIONS.publish
    assert "customer.balance q" in SERVICE_PERMISSIONS.subscribe
    assert not [s for s in SERVICE_PERMISSIONS.publish if s.endswith(("DELETE.>", "$JS.API.>"))]
