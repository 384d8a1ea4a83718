"""The twin's plain parts: injected faults, and the JWTs it issues."""

from __future__ import annotations

import base64

import nkeys
import pytest

from devkit.auth.jwt import decode_claims, new_identity
from devkit.auth.permissions import MIB
from devkit.controlplane_twin.bodies import KvBucketConfig, Permission, UserJwtSettings
from devkit.controlplane_twin.capacity import asks_for_jetstream, reservation
from devkit.controlplane_twin.claims import (
    DEFAULT_R1_LIMITS,
    account_jwt,
    account_limits,
    user_jwt,
)
from devkit.controlplane_twin.errors import TwinError
from devkit.controlplane_twin.faults import FaultRule, Faults
from devkit.controlplane_twin.jetstream import bucket_stream
from devkit.controlplane_twin.records import AccountRecord, SigningKeyGroupRecord


def test_a_fault_fires_its_number_of_times_on_matching_calls_only() -> None:
    faults = Faults()
    faults.add(FaultRule(method="GET", path="/core/beta/systems/*/accounts", status=503, times=2))
    assert faults.take("POST", "/core/beta/systems/S/accounts") is None
    assert faults.take("GET", "/core/beta/teams") is None
    assert [faults.take("GET", "/core/beta/systems/S/accounts") for _ in range(3)][2] is None
    assert faults.fired == 2
    assert faults.rules == []


def test_a_fault_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="status"):
        FaultRule(method="GET", path="/x", status=200)
    with pytest.raises(ValueError, match="method"):
        FaultRule(method="FETCH", path="/x", status=500)
    with pytest.raises(ValueError, match="a status or a delay_s"):
        FaultRule(method="GET", path="/x")
    with pytest.raises(ValueError, match="a status or a delay_s"):
        FaultRule(method="GET", path="/x", status=500, delay_s=1)
    assert FaultRule(method="POST", path="/x", delay_s=0.3).status is None


def _account() -> AccountRecord:
    return AccountRecord(
        id="A",
        name="POC",
        seed=new_identity("account").seed,
        created="2026-01-01T00:00:00Z",
        limits=account_limits(None),
        description="d",
        user_jwt_expires_in_secs=0,
        signing_key_group=SigningKeyGroupRecord(
            id="G", name="Default", seed=new_identity("account").seed, created="x"
        ),
        internal_user_seed=new_identity("user").seed,
        revocations={"UREVOKED": 1700000000},
    )


def _signed_by(token: str, seed: str) -> bool:
    """The signature verifies with the key of `seed`, and `iss` names that key."""
    header, payload, signature = token.split(".")
    key = nkeys.from_seed(bytearray(seed.encode()))
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    try:
        key.verify(f"{header}.{payload}".encode(), raw)
    except nkeys.ErrInvalidSignature:
        return False
    return bool(decode_claims(token)["iss"] == key.public_key.decode())


def test_an_account_names_its_signing_key_and_keeps_its_revocations() -> None:
    record = _account()
    operator = new_identity("operator")
    token = account_jwt(record, operator)
    claims = decode_claims(token)
    assert _signed_by(token, operator.seed)
    assert not _signed_by(token, record.seed)
    group_key = nkeys.from_seed(
        bytearray(record.signing_key_group.seed.encode())
    ).public_key.decode()
    assert claims["nats"]["signing_keys"] == [group_key]
    assert claims["nats"]["revocations"] == {"UREVOKED": 1700000000}
    assert claims["nats"]["limits"]["tiered_limits"] == {"R1": DEFAULT_R1_LIMITS}


def test_a_user_is_signed_by_the_group_key_for_its_account() -> None:
    record = _account()
    settings = UserJwtSettings(pub=Permission(allow=["a.>"]), sub=Permission(deny=["b"]))
    token = user_jwt(new_identity("user"), "worker", settings, record, expires_at=2000000000)
    claims = decode_claims(token)
    assert _signed_by(token, record.signing_key_group.seed)
    account_key = nkeys.from_seed(bytearray(record.seed.encode())).public_key.decode()
    assert claims["nats"]["issuer_account"] == account_key
    assert claims["nats"]["pub"] == {"allow": ["a.>"]}
    assert claims["nats"]["sub"] == {"deny": ["b"]}
    assert "resp" not in claims["nats"]
    assert claims["exp"] == 2000000000


def test_a_buckets_documented_settings_become_its_stream() -> None:
    config = KvBucketConfig(
        bucket="b", storage="file", max_age=5_000_000_000, compression=True, metadata={"k": "v"}
    )
    stream = bucket_stream(config)
    assert stream["name"] == "KV_b"
    assert stream["subjects"] == ["$KV.b.>"]
    assert (stream["max_age"], stream["compression"], stream["metadata"]) == (
        5_000_000_000,
        "s2",
        {"k": "v"},
    )
    assert stream["duplicate_window"] == 5_000_000_000  # never longer than max_age
    with pytest.raises(TwinError, match="mirror"):
        bucket_stream(KvBucketConfig(bucket="b", storage="file", mirror={"name": "other"}))


def test_an_accounts_jetstream_reservation_is_read_from_its_limits() -> None:
    assert asks_for_jetstream(account_limits(None))
    assert reservation(account_limits(None)) == (32 * MIB, 8 * MIB)
    without = {"conn": 5, "subs": 50}  # the original's account: NATS limits only
    assert not asks_for_jetstream(without)
    assert reservation({"disk_storage": -1, "mem_storage": 1024}) == (0, 1024)
