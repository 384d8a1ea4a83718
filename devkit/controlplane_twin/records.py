"""What the twin remembers: its team and system, and the accounts, users, buckets and streams
made through it, with their keys. One JSON file, 0600 (it holds seeds), rewritten whole after
every change, so a restarted twin knows everything it made.
"""

from __future__ import annotations

import json
import secrets
import string
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devkit.auth.jwt import Claims
from devkit.auth.private_files import write_private
from devkit.auth.security import twin_gateway_tokens_path

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """27 characters of base62, the shape of Synadia Cloud's ids (KSUIDs)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(27))


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SigningKeyGroupRecord:
    id: str
    name: str
    seed: str
    created: str


@dataclass
class AccountRecord:
    id: str
    name: str
    seed: str
    created: str
    limits: Claims
    description: str
    user_jwt_expires_in_secs: int
    signing_key_group: SigningKeyGroupRecord
    internal_user_seed: str
    """The twin's own user in the account, for its JetStream calls; never listed."""
    revocations: dict[str, int] = field(default_factory=dict)
    jwt: str = ""
    settings: Claims = field(default_factory=dict)
    """The rest of the JWT settings asked for (tags, info_url, authorization, mappings)."""


@dataclass
class UserRecord:
    id: str
    account_id: str
    name: str
    seed: str
    created: str
    jwt: str
    jwt_settings: Claims
    jwt_expires_in_secs: int


@dataclass
class JetStreamRecord:
    """A bucket or a stream: the API names it by id; the server by account and name."""

    id: str
    account_id: str
    name: str
    kind: str  # "kv-bucket" or "stream"
    created: str


@dataclass
class Records:
    team_id: str
    system_id: str
    created: str
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    jetstream: dict[str, JetStreamRecord] = field(default_factory=dict)
    gateway_tokens: dict[str, str] = field(default_factory=dict)
    """token -> user id."""

    def account_named(self, name: str) -> AccountRecord | None:
        return next((a for a in self.accounts.values() if a.name == name), None)

    def users_of(self, account_id: str) -> list[UserRecord]:
        return [u for u in self.users.values() if u.account_id == account_id]

    def jetstream_of(self, account_id: str, kind: str) -> list[JetStreamRecord]:
        found = self.jetstream.values()
        return [r for r in found if r.account_id == account_id and r.kind == kind]


@dataclass(frozen=True)
class TwinPaths:
    """Everything the twin writes lives under `<stack>/controlplane/`."""

    stack_root: Path

    @property
    def directory(self) -> Path:
        return self.stack_root / "controlplane"

    @property
    def records(self) -> Path:
        return self.directory / "records.json"

    @property
    def gateway_tokens(self) -> Path:
        """token -> {user, creds}: read by the local HTTP gateway, as a cloud token would be."""
        return twin_gateway_tokens_path(self.stack_root)

    def user_creds(self, user_id: str) -> Path:
        return self.directory / "creds" / f"{user_id}.creds"


def load_records(path: Path) -> Records:
    """The twin's records, or a new team and system when it has none yet."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return Records(team_id=new_id(), system_id=new_id(), created=now_rfc3339())
    accounts = {}
    for key, value in raw.pop("accounts").items():
        value["signing_key_group"] = SigningKeyGroupRecord(**value["signing_key_group"])
        accounts[key] = AccountRecord(**value)
    users = {key: UserRecord(**value) for key, value in raw.pop("users").items()}
    jetstream = {key: JetStreamRecord(**value) for key, value in raw.pop("jetstream").items()}
    return Records(**raw, accounts=accounts, users=users, jetstream=jetstream)


def save_records(path: Path, records: Records) -> None:
    write_private(path, json.dumps(asdict(records), indent=2))
