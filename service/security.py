"""Local NATS security that behaves like Synadia Cloud: operator mode, JWT users, least privilege.

`invoke up` generates an operator, a system account, the application account and the users
`service` and `client` once, under `.stack/`; the permissions here are the ones to give the
same users in Synadia Cloud.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service import names
from service.natsjwt import (
    Identity,
    Permissions,
    account_claims,
    encode,
    format_creds,
    identity_from_seed,
    new_identity,
    operator_claims,
    user_claims,
)

_KV_STREAM = f"KV_{names.KV_BUCKET}"
_JS = "$JS.API"

SERVICE_PERMISSIONS = Permissions(
    publish=(
        f"{names.EVENT_SUBJECT_PREFIX}.>",
        f"{_JS}.STREAM.INFO.{names.STREAM_NAME}",
        f"{_JS}.STREAM.CREATE.{names.STREAM_NAME}",
        f"{_JS}.STREAM.INFO.{_KV_STREAM}",
        f"{_JS}.STREAM.CREATE.{_KV_STREAM}",
        f"{_JS}.STREAM.MSG.GET.{_KV_STREAM}",
        f"{_JS}.DIRECT.GET.{_KV_STREAM}.>",
        f"$KV.{names.KV_BUCKET}.>",
        "_INBOX.>",
    ),
    subscribe=(
        f"{names.REQUEST_SUBJECT} {names.QUEUE_GROUP}",
        "$SRV.>",
        "_INBOX.>",
    ),
    allow_responses=True,
)
"""Serve `customer.balance` in queue `q`, answer `$SRV`, record events, use `config` and the stream."""

CLIENT_PERMISSIONS = Permissions(
    publish=(names.REQUEST_SUBJECT, "$SRV.>"),
    subscribe=("_INBOX.>",),
)
"""Ask for balances and discover the service; nothing else (no impersonation, no KV, no streams)."""

JETSTREAM_R1_LIMITS: dict[str, Any] = {
    "mem_storage": 64 * 1024 * 1024,
    "disk_storage": 512 * 1024 * 1024,
    "streams": 10,
    "consumer": 100,
    "max_ack_pending": -1,
    "mem_max_stream_bytes": -1,
    "disk_max_stream_bytes": -1,
    "max_bytes_required": True,
}
"""Like a Synadia Cloud account: R1 only, and every stream or bucket must set max_bytes."""


@dataclass(frozen=True)
class SecurityMaterial:
    operator_jwt: str
    system_account: str
    account_jwts: dict[str, str]
    """Public key -> JWT, preloaded into the server's memory resolver."""
    service_creds: Path
    client_creds: Path

    def server_config(self) -> str:
        """The nats-server configuration block for operator mode."""
        preload = "\n".join(f"  {key}: {token}" for key, token in self.account_jwts.items())
        return (
            f"operator: {self.operator_jwt}\n"
            f"system_account: {self.system_account}\n"
            "resolver: MEMORY\n"
            f"resolver_preload: {{\n{preload}\n}}\n"
        )


def write_private(path: Path, text: str) -> None:
    """Create with mode 0600 and replace atomically, so a secret is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(temporary, 0o600)
    temporary.replace(path)


def creds_path(root: Path, user: str) -> Path:
    return root / "creds" / f"{user}.creds"


def ensure_security(root: Path, *, account: str = names.APP_ACCOUNT_NAME) -> SecurityMaterial:
    """Load the material under `root`, or generate it on first use."""
    keys_path = root / "security" / "keys.json"
    if keys_path.exists():
        seeds = json.loads(keys_path.read_text())
        if seeds.get("account_name") != account:
            seeds = None  # a different account was asked for: start afresh
    else:
        seeds = None
    if seeds is None:
        seeds = {
            "account_name": account,
            **{role: new_identity(kind).seed for role, kind in _ROLES.items()},
        }
        write_private(keys_path, json.dumps(seeds, indent=2))
    identities = {role: identity_from_seed(seeds[role]) for role in _ROLES}
    return _issue(root, identities, account)


_ROLES = {
    "operator": "operator",
    "system": "account",
    "application": "account",
    "service": "user",
    "client": "user",
}


def _issue(root: Path, ids: dict[str, Identity], account: str) -> SecurityMaterial:
    operator, system, application = ids["operator"], ids["system"], ids["application"]
    operator_jwt = encode(operator_claims(operator, names.OPERATOR_NAME, system), operator)
    account_jwts = {
        system.public_key: encode(account_claims(system, names.SYSTEM_ACCOUNT_NAME), operator),
        application.public_key: encode(
            account_claims(application, account, jetstream_r1=JETSTREAM_R1_LIMITS), operator
        ),
    }
    paths = {}
    for role, permissions in (
        (names.SERVICE_USER, SERVICE_PERMISSIONS),
        (names.CLIENT_USER, CLIENT_PERMISSIONS),
    ):
        user = ids[role]
        token = encode(user_claims(user, role, permissions), application)
        paths[role] = creds_path(root, role)
        write_private(paths[role], format_creds(token, user))
    return SecurityMaterial(
        operator_jwt=operator_jwt,
        system_account=system.public_key,
        account_jwts=account_jwts,
        service_creds=paths[names.SERVICE_USER],
        client_creds=paths[names.CLIENT_USER],
    )
