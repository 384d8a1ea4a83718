"""`invoke cloud-up` and `cloud-down`: the whole cloud side the service needs, made through the
control-plane API, idempotently.

Each step looks for what it would make (by name) before making it, so a second run changes
nothing and a run that failed part-way resumes where it stopped; the ledger records what this
tool intends to make before each call and what it made after, and `cloud-down`
(devkit.cloud.teardown) removes exactly that, newest first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from nats.js.api import StreamConfig as NatsStreamConfig

from devkit import platform_names
from devkit.auth import contexts
from devkit.auth.permissions import USERS
from devkit.auth.private_files import write_private
from devkit.cloud import desired
from devkit.cloud.accounts import account_named
from devkit.cloud.ledger import CloudFiles, Kind
from devkit.controlplane.client import ControlPlane, ControlPlaneError
from devkit.controlplane.models import Account, NatsUser, System
from service import names
from service.bootstrap import desired_stream, stream_differences
from service.credentials import CredentialsError, read_credentials_file

Emit = Callable[[str], None]
CONTEXT_FOR = {
    platform_names.SERVICE_USER: contexts.CLOUD_SERVICE,
    platform_names.CLIENT_USER: contexts.CLOUD_CLIENT,
    platform_names.READER_USER: contexts.CLOUD_READER,
}
GATEWAY_USER = platform_names.CLIENT_USER


class CloudUp:
    def __init__(
        self,
        control_plane: ControlPlane,
        system: System,
        account: str,
        files: CloudFiles,
        contexts_dir: Path,
        emit: Emit,
    ) -> None:
        self.api = control_plane
        self.system = system
        self.files = files
        self.contexts_dir = contexts_dir
        self.emit = emit
        self.ledger = files.load(control_plane.api_url, account)
        self.replicas = desired.replicas_for(system)
        self.changes = 0

    def _making(self, kind: Kind, name: str) -> None:
        """Recorded before the call: an answer lost on its way still leaves the thing ours."""
        self.ledger.intend(kind, name)
        self.files.save(self.ledger)

    def _made(self, kind: Kind, name: str, id_: str, what: str) -> None:
        self.ledger.add(kind, name, id_)
        self.files.save(self.ledger)
        self.changes += 1
        self.emit(f"+ {what}")

    def _exists(self, kind: Kind, name: str, id_: str, said: str) -> None:
        """Found: ours, and recorded now, when a run interrupted before its answer intended it."""
        if self.ledger.adopt(kind, name, id_):
            self.files.save(self.ledger)
            said += "; made by an interrupted run of cloud-up: recorded as made"
        self.emit(f"= {said}")

    def plan(self, account_name: str) -> None:
        """--dry-run: what a run would make, from reads only."""
        self.emit(self._heading())
        found = account_named(self.api, self.system, account_name)
        if found is None:
            self.emit(f"+ would create account {account_name}, then everything in it:")
            wanted = [f"user {u}" for u in USERS] + [
                f"bucket {names.KV_BUCKET}",
                f"stream {names.STREAM_NAME} (R{self.replicas})",
            ]
            self.emit("  " + ", ".join(wanted) + "; creds, a gateway token and NATS contexts")
            return
        self.emit(f"= account {account_name} exists ({found.id})")
        users = {u.name for u in self.api.users(found.id)}
        for user in USERS:
            self.emit(f"= user {user} exists" if user in users else f"+ would create user {user}")
        buckets = {b.config.bucket for b in self.api.kv_buckets(found.id)}
        have_bucket = names.KV_BUCKET in buckets
        self.emit(("= " if have_bucket else "+ would create ") + f"bucket {names.KV_BUCKET}")
        streams = {s.config.name for s in self.api.streams(found.id)}
        have_stream = names.STREAM_NAME in streams
        self.emit(("= " if have_stream else "+ would create ") + f"stream {names.STREAM_NAME}")

    def _heading(self) -> str:
        return (
            f"{self.api.api_url}: system {self.system.name} ({self.system.id}),"
            f" JetStream R{self.replicas}"
        )

    def run(self, account_name: str) -> int:
        self.emit(self._heading())
        self.ledger.system_id = self.system.id
        account = self._account(account_name)
        self.ledger.account_id = account.id
        self.files.save(self.ledger)
        users = self._users(account)
        self._jetstream(account)
        creds = {name: self._creds(name, user) for name, user in users.items()}
        self._gateway_token(users[GATEWAY_USER].id)
        self._contexts(creds, account.system.server_urls)
        return self.changes

    def _account(self, name: str) -> Account:
        found = account_named(self.api, self.system, name)
        if found is not None:
            self._exists("account", name, found.id, f"account {name} exists ({found.id})")
            return found
        self._making("account", name)
        created = self.api.create_account(
            self.system.id, desired.account_request(name, self.replicas)
        )
        self._made("account", name, created.id, f"created account {name} ({created.id})")
        return created

    def _users(self, account: Account) -> dict[str, NatsUser]:
        groups = [g for g in self.api.signing_key_groups(account.id) if not g.disabled]
        if not groups:
            raise ControlPlaneError(f"account {account.name} has no enabled signing-key group")
        existing = {u.name: u for u in self.api.users(account.id)}
        made = {}
        for name in USERS:
            user = existing.get(name)
            if user is None:
                self._making("user", name)
                user = self.api.create_user(account.id, desired.user_request(name, groups[0].id))
                self._made("user", name, user.id, f"created user {name} ({user.id})")
            else:
                self._exists("user", name, user.id, f"user {name} exists ({user.id})")
                if desired.permissions_differ(desired.user_settings(name), user.jwt_settings):
                    self.emit(f"! user {name} has other permissions than {name} locally; left")
            made[name] = user
        return made

    def _jetstream(self, account: Account) -> None:
        buckets = {b.config.bucket: b for b in self.api.kv_buckets(account.id)}
        if names.KV_BUCKET in buckets:
            found_id = buckets[names.KV_BUCKET].id
            said = f"bucket {names.KV_BUCKET} exists ({found_id})"
            self._exists("kv-bucket", names.KV_BUCKET, found_id, said)
        else:
            self._making("kv-bucket", names.KV_BUCKET)
            made = self.api.create_kv_bucket(account.id, desired.bucket_config(self.replicas))
            self._made("kv-bucket", names.KV_BUCKET, made.id, f"created bucket {names.KV_BUCKET}")
        streams = {s.config.name: s for s in self.api.streams(account.id)}
        found = streams.get(names.STREAM_NAME)
        if found is None:
            self._making("stream", names.STREAM_NAME)
            made_stream = self.api.create_stream(account.id, desired.stream_config(self.replicas))
            what = f"created stream {names.STREAM_NAME} (R{self.replicas})"
            self._made("stream", names.STREAM_NAME, made_stream.id, what)
            return
        said = f"stream {names.STREAM_NAME} exists ({found.id})"
        self._exists("stream", names.STREAM_NAME, found.id, said)
        have = NatsStreamConfig.from_response(found.config.model_dump())
        differences = stream_differences(have, desired_stream(self.replicas))
        if differences:
            self.emit(f"! stream {names.STREAM_NAME} differs: {'; '.join(differences)}; left")

    def _creds(self, name: str, user: NatsUser) -> Path:
        path = self.files.creds(name)
        try:
            if read_credentials_file(path, label="creds").user_public_key == user.user_public_key:
                self._exists("file", str(path), str(path), f"creds of {name} up to date ({path})")
                return path
        except CredentialsError:
            pass  # missing, or of a user since replaced: download
        self._making("file", str(path))
        write_private(path, self.api.creds(user.id))
        self._made("file", str(path), str(path), f"wrote {path} (0600)")
        return path

    def _gateway_token(self, user_id: str) -> None:
        path = self.files.gateway_token(GATEWAY_USER)
        if path.exists():
            said = f"HTTP-gateway token of {GATEWAY_USER} kept ({path})"
            self._exists("file", str(path), str(path), said)
            return
        self._making("file", str(path))
        write_private(path, self.api.gateway_token(user_id) + "\n")
        self._made("file", str(path), str(path), f"wrote {path} (0600)")

    def _contexts(self, creds: dict[str, Path], server_urls: str | None) -> None:
        """At the URLs the account's system answer gives (a system's own answer has none)."""
        url = server_urls or platform_names.CLOUD_NATS_URL
        for user, path in creds.items():
            context = contexts.Context(
                CONTEXT_FOR[user], url, path, f"{self.ledger.account} as the {user} user"
            )
            target = self.contexts_dir / "context" / f"{context.name}.json"
            current = target.read_text() if target.exists() else ""
            if current and json.loads(current) == context.document():
                self.emit(f"= NATS context {context.name} up to date")
                continue
            if current and not self.ledger.holds("context", context.name):
                self.emit(
                    f"! NATS context {context.name} exists and points elsewhere; left (remove it"
                    f" with `invoke context --remove` for cloud-up to write it)"
                )
                continue
            self._making("context", context.name)
            contexts.write_contexts(self.contexts_dir, [context])
            self._made("context", context.name, str(target), f"wrote NATS context {context.name}")
