"""The JWTs the twin issues, from what the API was asked: plain functions over its records.

Accounts are signed by the local operator and name their signing-key group's key; users are
signed by that key with `issuer_account`, as Synadia Cloud issues them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from devkit.auth.jwt import UNLIMITED, Claims, Identity, encode, identity_from_seed
from devkit.auth.permissions import MIB, jetstream_limits
from devkit.controlplane_twin.bodies import AccountJwtSettings, UserJwtSettings
from devkit.controlplane_twin.records import AccountRecord
from devkit.controlplane_twin.tiers import R1, R3

DEFAULT_R1_LIMITS: Final = jetstream_limits(disk_bytes=32 * MIB, memory_bytes=8 * MIB)
"""An account asked for without limits: JetStream through R1, and small, because the server
reserves every account's storage against its own 1 GB of disk and 256 MB of memory: beside the
stack's own account, 28 such accounts fit."""
DEFAULT_R3_LIMITS: Final = jetstream_limits(disk_bytes=32 * MIB, memory_bytes=8 * MIB)
"""Where the system offers R3 (a cluster), such an account gets the R3 tier besides, of the same
size: a tier's storage is counted on each server, which holds one replica of each R3 stream
(measured on nats-server 2.15.1: three R3 streams of 20, 20 and 40 MiB fit a 96 MiB R3 tier), and,
as Synadia Cloud's R3 tier, every stream or bucket in it must set max_bytes."""


def account_limits(requested: Claims | None, tiers: Sequence[str] = (R1,)) -> Claims:
    """What was asked, or, without limits, a default tier for each tier the system offers."""
    if requested:
        return dict(requested)
    defaults = {R1: DEFAULT_R1_LIMITS, R3: DEFAULT_R3_LIMITS}
    return {"tiered_limits": {tier: defaults[tier] for tier in tiers}}


ACCOUNT_CLAIMS = ("tags", "info_url", "authorization", "mappings")
"""Account JWT settings that go into the claim as they are."""
USER_CLAIMS = (
    "pub", "sub", "resp", "src", "times", "times_location",
    "bearer_token", "allowed_connection_types", "tags",
)  # fmt: skip
"""User JWT settings that go into the claim as they are; subs, data and payload default to -1."""


def account_settings(settings: AccountJwtSettings | None) -> Claims:
    if settings is None:
        return {}
    return settings.model_dump(include=set(ACCOUNT_CLAIMS), exclude_none=True)


def account_jwt(record: AccountRecord, operator: Identity) -> str:
    account = identity_from_seed(record.seed)
    signing_key = identity_from_seed(record.signing_key_group.seed)
    nats: Claims = {
        "type": "account",
        "version": 2,
        "limits": {**UNLIMITED, **record.limits},
        "signing_keys": [signing_key.public_key],
    }
    if record.description:
        nats["description"] = record.description
    nats.update(record.settings)
    if record.revocations:
        nats["revocations"] = dict(record.revocations)
    return encode({"sub": account.public_key, "name": record.name, "nats": nats}, operator)


def user_jwt(
    user: Identity,
    name: str,
    settings: UserJwtSettings,
    account: AccountRecord,
    *,
    expires_at: int | None,
) -> str:
    """No pub or sub permission means the whole account, as in the cloud."""
    nats: Claims = {
        "type": "user",
        "version": 2,
        "subs": -1 if settings.subs is None else settings.subs,
        "data": -1 if settings.data is None else settings.data,
        "payload": -1 if settings.payload is None else settings.payload,
        "issuer_account": identity_from_seed(account.seed).public_key,
    }
    nats.update(settings.model_dump(include=set(USER_CLAIMS), exclude_none=True))
    claims: Claims = {"sub": user.public_key, "name": name, "nats": nats}
    if expires_at is not None:
        claims["exp"] = expires_at
    return encode(claims, identity_from_seed(account.signing_key_group.seed))
