from __future__ import annotations

import base64

import nkeys

from devkit.auth.jwt import (
    Permissions,
    account_claims,
    decode_claims,
    encode,
    format_creds,
    new_identity,
    user_claims,
)
from service.credentials import parse_credentials


def test_signature_verifies_with_the_issuer_key() -> None:
    account, user = new_identity("account"), new_identity("user")
    token = encode(user_claims(user, "u", Permissions(("a",), ("b",))), account, now=1000)
    header, payload, signature = token.split(".")
    verifier = nkeys.from_seed(bytearray(account.seed.encode()))
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert verifier.verify(f"{header}.{payload}".encode(), raw)
    claims = decode_claims(token)
    assert claims["iss"] == account.public_key
    assert claims["sub"] == user.public_key
    assert claims["iat"] == 1000
    assert claims["jti"]


def test_keys_have_the_right_prefixes() -> None:
    assert new_identity("operator").public_key.startswith("O")
    assert new_identity("account").public_key.startswith("A")
    user = new_identity("user")
    assert user.public_key.startswith("U")
    assert user.seed.startswith("SU")
    assert user.seed not in repr(user)


def test_jetstream_limits_use_the_server_names() -> None:
    account = new_identity("account")
    claims = account_claims(
        account, "POC", jetstream_r1={"mem_storage": 1, "max_bytes_required": True}
    )
    limits = claims["nats"]["limits"]
    assert limits["tiered_limits"] == {"R1": {"mem_storage": 1, "max_bytes_required": True}}
    assert "memory_storage" not in str(claims)


def test_user_permissions_and_responses() -> None:
    user = new_identity("user")
    claims = user_claims(
        user, "svc", Permissions(("p.>",), ("s q",), allow_responses=True), expires_at=5
    )
    assert claims["nats"]["pub"] == {"allow": ["p.>"]}
    assert claims["nats"]["sub"] == {"allow": ["s q"]}
    assert claims["nats"]["resp"] == {"max": 1, "ttl": 0}
    assert claims["exp"] == 5


def test_creds_file_parses_back() -> None:
    account, user = new_identity("account"), new_identity("user")
    token = encode(user_claims(user, "u", Permissions((), ())), account)
    parsed = parse_credentials(format_creds(token, user), source="test")
    assert parsed.user_public_key == user.public_key
