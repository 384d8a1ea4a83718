"""The control-plane twin: what each API call does to the twin's records and to the server.

Every change is made on the server first and recorded after, so a call that fails leaves
nothing half-made in the records; the records are saved after every change. Refusals use the
status codes the published document declares for the operation (a duplicate name is a 400:
the document declares no 409).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time

from devkit.auth.jwt import Identity, format_creds, identity_from_seed, new_identity
from devkit.auth.private_files import write_private
from devkit.auth.security import GATEWAY_TOKEN_PREFIX
from devkit.controlplane import models
from devkit.controlplane_twin import capacity, claims, tiers, views
from devkit.controlplane_twin.bodies import (
    NOT_EMULATED_ACCOUNT_FIELDS,
    AccountCreateRequest,
    KvBucketConfig,
    NatsUserCreateRequest,
    StreamConfig,
    UserJwtSettings,
)
from devkit.controlplane_twin.errors import TwinError
from devkit.controlplane_twin.jetstream import JetStreamDesk
from devkit.controlplane_twin.name_locks import NameLocks
from devkit.controlplane_twin.records import (
    AccountRecord,
    Records,
    SigningKeyGroupRecord,
    TwinPaths,
    UserRecord,
    load_records,
    new_id,
    now_rfc3339,
    save_records,
)
from devkit.controlplane_twin.server_side import ServerSide, ServerSideError


def _refuse_not_emulated(request: AccountCreateRequest) -> None:
    for name, accepted in NOT_EMULATED_ACCOUNT_FIELDS.items():
        value = getattr(request, name)
        if value is not None and value != accepted:
            raise TwinError(400, f"{name}: the twin does not emulate {name}={value!r}")


class ControlPlaneTwin:
    def __init__(self, paths: TwinPaths, nats_url: str, operator: Identity, system: Identity):
        self.paths = paths
        self.nats_url = nats_url
        self._operator = operator
        self.records: Records = load_records(paths.records)
        self.server = ServerSide(nats_url, operator, system, new_identity("user"))
        self.locks = NameLocks()
        self.offered = tiers.TierCache(self.server.jetstream_report)
        self.jetstream = JetStreamDesk(
            self.server, self.records, self.save, self.locks, self._tiers
        )

    async def start(self) -> None:
        """Put back on the server every account the twin made (a wiped volume loses them)."""
        for record in self.records.accounts.values():
            await self._install(record)

    async def close(self) -> None:
        await self.server.close()

    def save(self) -> None:
        save_records(self.paths.records, self.records)

    async def _install(self, record: AccountRecord) -> None:
        record.jwt = claims.account_jwt(record, self._operator)
        try:
            await self.server.install_account(record.jwt)
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None

    # Lookups: a missing id is a 404, as in the API

    def _account(self, account_id: str) -> AccountRecord:
        found = self.records.accounts.get(account_id)
        if found is None:
            raise TwinError(404, f"no account {account_id}")
        return found

    def _user(self, user_id: str) -> UserRecord:
        found = self.records.users.get(user_id)
        if found is None:
            raise TwinError(404, f"no NATS user {user_id}")
        return found

    def _system(self, system_id: str) -> None:
        if system_id != self.records.system_id:
            raise TwinError(404, f"no system {system_id}")

    # Teams, systems, accounts

    def team(self, team_id: str | None = None) -> models.Team:
        if team_id is not None and team_id != self.records.team_id:
            raise TwinError(404, f"no team {team_id}")
        return views.team(self.records)

    async def _tiers(self) -> tuple[str, ...]:
        """The JetStream tiers the server behind the twin can hold (tiers.py)."""
        try:
            return await self.offered.tiers()
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None

    async def systems(self, team_id: str) -> list[models.System]:
        self.team(team_id)
        return [await self.system(self.records.system_id)]

    async def system(self, system_id: str) -> models.System:
        self._system(system_id)
        return views.system(self.records, self.nats_url, await self._tiers())

    async def accounts(self, system_id: str) -> list[models.Account]:
        self._system(system_id)
        return [await self.account(account_id) for account_id in self.records.accounts]

    async def account(self, account_id: str) -> models.Account:
        record = self._account(account_id)
        return views.account(self.records, record, self.nats_url, await self._tiers())

    async def create_account(self, system_id: str, request: AccountCreateRequest) -> models.Account:
        self._system(system_id)
        _refuse_not_emulated(request)
        async with self.locks.of("account", system_id, request.name):
            return await self._create_account(request)

    async def _create_account(self, request: AccountCreateRequest) -> models.Account:
        name = request.name
        if self.records.account_named(name) is not None:
            raise TwinError(400, f"an account named {name} already exists in this system")
        settings = request.jwt_settings
        limits = (
            settings.limits.model_dump(exclude_none=True) if settings and settings.limits else None
        )
        offered = await self._tiers()
        refusal = tiers.limits_refusal(limits, offered) if limits else None
        if refusal:
            raise TwinError(400, refusal)
        created = now_rfc3339()
        record = AccountRecord(
            id=new_id(),
            name=name,
            seed=new_identity("account").seed,
            created=created,
            limits=claims.account_limits(limits, offered),
            description=(settings.description or "") if settings else "",
            settings=claims.account_settings(settings),
            revocations=dict(settings.revocations or {}) if settings else {},
            user_jwt_expires_in_secs=request.user_jwt_expires_in_secs or 0,
            signing_key_group=SigningKeyGroupRecord(
                id=new_id(), name="Default", seed=new_identity("account").seed, created=created
            ),
            internal_user_seed=new_identity("user").seed,
        )
        await self._install(record)
        try:
            room = not capacity.asks_for_jetstream(record.limits) or (
                await self.jetstream.enabled(record)
            )
        except TwinError:
            await self._uninstall(record)
            raise
        if not room:
            await self._uninstall(record)
            try:
                report = await self.server.jetstream_report()
            except ServerSideError:
                report = {}
            others = [account.limits for account in self.records.accounts.values()]
            raise TwinError(400, capacity.no_room(record.limits, others, report))
        self.records.accounts[record.id] = record
        self.save()
        return await self.account(record.id)

    async def _uninstall(self, record: AccountRecord) -> None:
        """Undo an install the create will not keep (best effort: the create fails anyway)."""
        with contextlib.suppress(ServerSideError):
            await self.server.delete_account(views.account_public_key(record))

    async def delete_account(self, account_id: str) -> None:
        """Its streams and buckets first (their data would outlive the account), then the rest."""
        record = self._account(account_id)
        await self.jetstream.delete_everything(record)
        try:
            await self.server.delete_account(views.account_public_key(record))
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None
        for user in self.records.users_of(account_id):
            self._forget_user(user)
        for item in [r for r in self.records.jetstream.values() if r.account_id == account_id]:
            del self.records.jetstream[item.id]
        del self.records.accounts[account_id]
        self.save()

    async def account_stats(self, account_id: str) -> models.JetStreamAccountStats:
        return await self.jetstream.stats(self._account(account_id))

    def signing_key_groups(self, account_id: str) -> list[models.SigningKeyGroup]:
        return [views.signing_key_group(self._account(account_id))]

    # NATS users

    async def users(self, account_id: str) -> list[models.NatsUser]:
        self._account(account_id)
        return [await self.user(user.id) for user in self.records.users_of(account_id)]

    async def user(self, user_id: str) -> models.NatsUser:
        record = self._user(user_id)
        return views.user(self.records, record, self.nats_url, await self._tiers())

    async def create_user(self, account_id: str, request: NatsUserCreateRequest) -> models.NatsUser:
        account = self._account(account_id)
        name = request.name
        if request.sk_group_id != account.signing_key_group.id:
            raise TwinError(404, f"no signing-key group {request.sk_group_id} in this account")
        if any(user.name == name for user in self.records.users_of(account_id)):
            raise TwinError(400, f"a user named {name} already exists in this account")
        expires_in = request.jwt_expires_in_secs or account.user_jwt_expires_in_secs
        identity = new_identity("user")
        settings = request.jwt_settings or UserJwtSettings()
        record = UserRecord(
            id=new_id(),
            account_id=account_id,
            name=name,
            seed=identity.seed,
            created=now_rfc3339(),
            jwt=claims.user_jwt(
                identity,
                name,
                settings,
                account,
                expires_at=int(time.time()) + expires_in if expires_in else None,
            ),
            jwt_settings=settings.model_dump(exclude_none=True),
            jwt_expires_in_secs=expires_in,
        )
        self.records.users[record.id] = record
        self.save()
        return await self.user(record.id)

    async def delete_user(self, user_id: str) -> None:
        """Revoked in the account's JWT, so a connection it already has is closed too."""
        user = self._user(user_id)
        account = self._account(user.account_id)
        account.revocations[identity_from_seed(user.seed).public_key] = int(time.time())
        await self._install(account)
        self._forget_user(user)
        self.save()

    def _forget_user(self, user: UserRecord) -> None:
        del self.records.users[user.id]
        for token in [t for t, owner in self.records.gateway_tokens.items() if owner == user.id]:
            del self.records.gateway_tokens[token]
        self.paths.user_creds(user.id).unlink(missing_ok=True)
        self._write_gateway_tokens()

    def creds(self, user_id: str) -> str:
        user = self._user(user_id)
        return format_creds(user.jwt, identity_from_seed(user.seed))

    def gateway_token(self, user_id: str) -> str:
        """A new token for the local HTTP gateway, which connects with this user's creds."""
        user = self._user(user_id)
        write_private(self.paths.user_creds(user.id), self.creds(user.id))
        token = GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.records.gateway_tokens[token] = user.id
        self.save()
        self._write_gateway_tokens()
        return token

    def _write_gateway_tokens(self) -> None:
        book = {
            token: {"user": user_id, "creds": str(self.paths.user_creds(user_id))}
            for token, user_id in self.records.gateway_tokens.items()
        }
        write_private(self.paths.gateway_tokens, json.dumps(book, indent=2))

    # JetStream, through the desk

    async def kv_buckets(self, account_id: str) -> list[models.KvBucket]:
        return await self.jetstream.buckets(self._account(account_id))

    async def streams(self, account_id: str) -> list[models.StreamInfo]:
        return await self.jetstream.streams(self._account(account_id))

    async def create_kv_bucket(self, account_id: str, config: KvBucketConfig) -> models.KvBucket:
        return await self.jetstream.create_bucket(self._account(account_id), config)

    async def create_stream(self, account_id: str, config: StreamConfig) -> models.StreamInfo:
        return await self.jetstream.create_stream(self._account(account_id), config)

    async def kv_bucket(self, bucket_id: str) -> models.KvBucket:
        return await self.jetstream.bucket(bucket_id)

    async def stream(self, stream_id: str) -> models.StreamInfo:
        return await self.jetstream.stream(stream_id)

    async def delete_jetstream(self, item_id: str, kind: str) -> None:
        await self.jetstream.delete(item_id, kind)
