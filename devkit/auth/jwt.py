"""NATS decentralized-auth JWTs (nats-io/jwt v2 format), signed with nkeys.

No third-party JWT package: the one on PyPI writes wrong JetStream limit names. Claims follow
nats-io/jwt v2; the tests check every JWT against a real nats-server in operator mode.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, TypeAlias

import nkeys

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}

PREFIXES = {
    "operator": nkeys.PREFIX_BYTE_OPERATOR,
    "account": nkeys.PREFIX_BYTE_ACCOUNT,
    "user": nkeys.PREFIX_BYTE_USER,
}


@dataclass(frozen=True)
class Identity:
    """An nkey pair; the seed is the secret."""

    seed: str
    public_key: str

    def __repr__(self) -> str:
        return f"Identity(public_key={self.public_key!r})"

    def sign(self, data: bytes) -> bytes:
        signature: bytes = nkeys.from_seed(bytearray(self.seed.encode())).sign(data)
        return signature


def new_identity(kind: str) -> Identity:
    seed = nkeys.encode_seed(os.urandom(32), PREFIXES[kind])
    return identity_from_seed(seed.decode())


def identity_from_seed(seed: str) -> Identity:
    public = nkeys.from_seed(bytearray(seed.encode())).public_key
    return Identity(seed=seed, public_key=public.decode())


Claims: TypeAlias = dict[str, Any]
"""A JWT's payload, or a part of it (its `nats`, its `limits`): JSON, signed as it is."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode(claims: Claims, issuer: Identity, *, now: int | None = None) -> str:
    """Add iss, iat and jti, then sign `header.payload` with the issuer's key."""
    body = {**claims, "iss": issuer.public_key, "iat": int(time.time()) if now is None else now}
    unsigned = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    # Like Go's jwt library: jti is base32 of a SHA-512/256 of the claims without it.
    body["jti"] = (
        base64.b32encode(hashlib.new("sha512_256", unsigned).digest()).decode().rstrip("=")
    )
    header = _b64url(json.dumps(_HEADER, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(body, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{_b64url(issuer.sign(signing_input))}"


def decode_claims(token: str) -> Claims:
    """The payload, unverified: for showing and testing what was written."""
    payload = token.split(".")[1]
    claims: Claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def operator_claims(operator: Identity, name: str, system_account: Identity) -> Claims:
    return {
        "sub": operator.public_key,
        "name": name,
        "nats": {"type": "operator", "version": 2, "system_account": system_account.public_key},
    }


UNLIMITED = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}


def account_claims(
    account: Identity,
    name: str,
    *,
    jetstream_r1: Claims | None = None,
    jetstream_r3: Claims | None = None,
) -> Claims:
    """JetStream only through tiers, as Synadia Cloud's accounts have it: R1, and R3 where the
    system is a cluster."""
    limits: Claims = dict(UNLIMITED)
    tiers = {tier: given for tier, given in (("R1", jetstream_r1), ("R3", jetstream_r3)) if given}
    if tiers:
        limits["tiered_limits"] = tiers
    return {
        "sub": account.public_key,
        "name": name,
        "nats": {"type": "account", "version": 2, "limits": limits},
    }


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


def user_claims(
    user: Identity, name: str, permissions: Permissions, *, expires_at: int | None = None
) -> Claims:
    nats: Claims = {
        "type": "user",
        "version": 2,
        "subs": -1,
        "data": -1,
        "payload": -1,
        "pub": {"allow": list(permissions.publish)},
        "sub": {"allow": list(permissions.subscribe)},
    }
    if permissions.allow_responses:
        nats["resp"] = {"max": 1, "ttl": 0}
    claims: Claims = {"sub": user.public_key, "name": name, "nats": nats}
    if expires_at is not None:
        claims["exp"] = expires_at
    return claims


def format_creds(user_jwt: str, user: Identity) -> str:
    """The .creds layout of Go's jwt.FormatUserConfig (END lines have six dashes)."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{user_jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{user.seed}\n"
        "------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )
