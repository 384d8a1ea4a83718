"""Buckets and streams through the twin: made, listed and deleted by the server's JetStream API
inside the account, so its answers (and refusals, such as a stream without max_bytes in an
account that requires it) are the server's own.

The API names each by an id; the twin gives one to every bucket or stream it first sees,
including those the service made itself, as the cloud lists everything in the account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client

from devkit.auth.jwt import identity_from_seed
from devkit.controlplane.models import JetStreamAccountStats, KvBucket, StreamInfo
from devkit.controlplane_twin import tiers, views
from devkit.controlplane_twin.bodies import NOT_EMULATED_BUCKET_FIELDS, KvBucketConfig, StreamConfig
from devkit.controlplane_twin.errors import TwinError
from devkit.controlplane_twin.name_locks import NameLocks
from devkit.controlplane_twin.records import (
    AccountRecord,
    JetStreamRecord,
    Records,
    new_id,
    now_rfc3339,
)
from devkit.controlplane_twin.server_side import (
    JETSTREAM_NOT_ENABLED,
    JetStreamError,
    ServerAnswer,
    ServerSide,
    ServerSideError,
)
from service import names

KV_PREFIX = names.KV_STREAM_PREFIX
OBJECT_PREFIX = "OBJ_"
_STATUS_FOR_ERROR = {10059: 404}
"""JetStream's "stream not found"; every other refusal is a 400, as the document declares."""


ENABLED_ATTEMPTS = 3
ENABLED_RECHECK_S = 0.1


def kind_of(stream_name: str) -> str | None:
    if stream_name.startswith(KV_PREFIX):
        return "kv-bucket"
    return None if stream_name.startswith(OBJECT_PREFIX) else "stream"


def stream_name_of(name: str, kind: str) -> str:
    return KV_PREFIX + name if kind == "kv-bucket" else name


NANOSECONDS_PER_S = 1_000_000_000
KV_DUPLICATE_WINDOW_NS = 120 * NANOSECONDS_PER_S


def bucket_stream(config: KvBucketConfig) -> dict[str, object]:
    """The stream a key-value bucket is, by JetStream's conventions (as the NATS clients make
    it), with every setting of the request applied."""
    for field in NOT_EMULATED_BUCKET_FIELDS:
        if getattr(config, field) is not None:
            raise TwinError(400, f"{field}: the twin does not emulate a bucket's {field}")
    max_age = config.max_age or 0
    stream: dict[str, object] = {
        "name": KV_PREFIX + config.bucket,
        "subjects": [f"$KV.{config.bucket}.>"],
        "retention": "limits",
        "storage": config.storage,
        "discard": "new",
        "max_msgs_per_subject": config.history or 1,
        "max_msgs": -1,
        "max_bytes": config.max_bytes if config.max_bytes is not None else -1,
        "max_age": max_age,
        "max_msg_size": config.max_value_size or -1,
        "max_consumers": -1,
        "num_replicas": config.num_replicas or 1,
        "duplicate_window": min(max_age, KV_DUPLICATE_WINDOW_NS) or KV_DUPLICATE_WINDOW_NS,
        "allow_rollup_hdrs": True,
        "deny_delete": True,
        "deny_purge": False,
        "allow_direct": True,
        "compression": "s2" if config.compression else "none",
    }
    optional = {
        "description": config.description,
        "metadata": config.metadata,
        "placement": config.placement,
        "republish": config.republish,
    }
    stream.update({key: value for key, value in optional.items() if value is not None})
    if config.limit_marker_ttl:
        stream["allow_msg_ttl"] = True
        stream["subject_delete_marker_ttl"] = config.limit_marker_ttl
    return stream


class JetStreamDesk:
    def __init__(
        self,
        server: ServerSide,
        records: Records,
        save: Callable[[], None],
        locks: NameLocks,
        offered: Callable[[], Awaitable[tuple[str, ...]]],
    ) -> None:
        self._server = server
        self._records = records
        self._save = save
        self._locks = locks
        self._offered = offered

    async def _refuse_untiered(self, what: str, replicas: object) -> None:
        """A single server takes `num_replicas: 3` and quietly makes one replica; the API of a
        system without the R3 tier refuses it, as Synadia Cloud refuses a tier it lacks.
        `offered` answers the system's tiers, or raises the TwinError of a server that cannot."""
        refusal = tiers.replicas_refusal(what, replicas, await self._offered())
        if refusal:
            raise TwinError(400, refusal)

    async def _connection(self, account: AccountRecord) -> Client:
        try:
            return await self._server.as_account(
                identity_from_seed(account.seed), identity_from_seed(account.internal_user_seed)
            )
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None

    async def _call(self, account: AccountRecord, subject: str, body: Any = None) -> ServerAnswer:
        try:
            return await self._server.jetstream(await self._connection(account), subject, body)
        except JetStreamError as error:
            raise self._refusal(error) from None
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None

    @staticmethod
    def _refusal(error: JetStreamError) -> TwinError:
        status = _STATUS_FOR_ERROR.get(error.err_code, 400 if error.code < 500 else 503)
        return TwinError(status, f"{error.description} ({error.err_code})")

    def _record(self, account: AccountRecord, name: str, kind: str) -> JetStreamRecord:
        for record in self._records.jetstream_of(account.id, kind):
            if record.name == name:
                return record
        record = JetStreamRecord(new_id(), account.id, name, kind, now_rfc3339())
        self._records.jetstream[record.id] = record
        self._save()
        return record

    async def _names(self, account: AccountRecord) -> list[str]:
        try:
            answer = await self._server.jetstream(await self._connection(account), "STREAM.NAMES")
        except JetStreamError as error:
            if error.err_code == JETSTREAM_NOT_ENABLED:
                return []
            raise self._refusal(error) from None
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None
        return list(answer.get("streams") or [])

    async def enabled(self, account: AccountRecord) -> bool:
        """Whether the server gave the account JetStream (it refuses a reservation it lacks
        room for, silently: the account is made, its JetStream calls fail). Asked again after
        a moment before a "no", so a server slow to enable it is not taken for a full one."""
        for attempt in range(ENABLED_ATTEMPTS):
            try:
                await self._server.jetstream(await self._connection(account), "INFO")
            except JetStreamError as error:
                if error.err_code != JETSTREAM_NOT_ENABLED:
                    raise self._refusal(error) from None
            except ServerSideError as error:
                raise TwinError(error.status, error.message) from None
            else:
                return True
            if attempt + 1 < ENABLED_ATTEMPTS:
                await asyncio.sleep(ENABLED_RECHECK_S)
        return False

    async def stats(self, account: AccountRecord) -> JetStreamAccountStats:
        try:
            info = await self._server.jetstream(await self._connection(account), "INFO")
        except JetStreamError as error:
            if error.err_code != JETSTREAM_NOT_ENABLED:
                raise self._refusal(error) from None
            info = {}
        except ServerSideError as error:
            raise TwinError(error.status, error.message) from None
        return views.account_stats(info)

    async def _infos(
        self, account: AccountRecord, kind: str
    ) -> list[tuple[JetStreamRecord, ServerAnswer]]:
        """Each of the account's streams of `kind`, with the server's STREAM.INFO of it."""
        found = []
        for stream_name in sorted(await self._names(account)):
            if kind_of(stream_name) != kind:
                continue
            name = stream_name.removeprefix(KV_PREFIX) if kind == "kv-bucket" else stream_name
            info = await self._call(account, f"STREAM.INFO.{stream_name}")
            found.append((self._record(account, name, kind), info))
        return found

    async def buckets(self, account: AccountRecord) -> list[KvBucket]:
        found = await self._infos(account, "kv-bucket")
        return [views.kv_bucket(record.id, record.name, info) for record, info in found]

    async def streams(self, account: AccountRecord) -> list[StreamInfo]:
        return [
            views.stream(record.id, info) for record, info in await self._infos(account, "stream")
        ]

    async def _refuse_existing(self, account: AccountRecord, name: str, kind: str) -> None:
        """JetStream takes an identical create as a no-op; the API refuses a second one."""
        if stream_name_of(name, kind) in await self._names(account):
            raise TwinError(400, f"a {kind} named {name} already exists in this account")

    async def create_bucket(self, account: AccountRecord, config: KvBucketConfig) -> KvBucket:
        stream = bucket_stream(config)
        await self._refuse_untiered("bucket", stream["num_replicas"])
        stream_name = stream_name_of(config.bucket, "kv-bucket")
        async with self._locks.of("jetstream", account.id, stream_name):
            await self._refuse_existing(account, config.bucket, "kv-bucket")
            info = await self._call(account, f"STREAM.CREATE.{stream_name}", stream)
            record = self._record(account, config.bucket, "kv-bucket")
            return views.kv_bucket(record.id, record.name, info)

    async def create_stream(self, account: AccountRecord, config: StreamConfig) -> StreamInfo:
        await self._refuse_untiered("stream", config.num_replicas)
        async with self._locks.of("jetstream", account.id, config.name):
            await self._refuse_existing(account, config.name, "stream")
            body = config.model_dump(exclude_none=True)
            info = await self._call(account, f"STREAM.CREATE.{config.name}", body)
            return views.stream(self._record(account, config.name, "stream").id, info)

    def _find(self, item_id: str, kind: str) -> tuple[JetStreamRecord, AccountRecord]:
        record = self._records.jetstream.get(item_id)
        if record is None or record.kind != kind:
            raise TwinError(404, f"no {kind} {item_id}")
        return record, self._records.accounts[record.account_id]

    async def _info(self, item_id: str, kind: str) -> tuple[JetStreamRecord, ServerAnswer]:
        record, account = self._find(item_id, kind)
        info = await self._call(account, f"STREAM.INFO.{stream_name_of(record.name, kind)}")
        return record, info

    async def bucket(self, item_id: str) -> KvBucket:
        record, info = await self._info(item_id, "kv-bucket")
        return views.kv_bucket(record.id, record.name, info)

    async def stream(self, item_id: str) -> StreamInfo:
        record, info = await self._info(item_id, "stream")
        return views.stream(record.id, info)

    async def delete(self, item_id: str, kind: str) -> None:
        record, account = self._find(item_id, kind)
        await self._call(account, f"STREAM.DELETE.{stream_name_of(record.name, kind)}")
        del self._records.jetstream[record.id]
        self._save()

    async def delete_everything(self, account: AccountRecord) -> None:
        for stream_name in await self._names(account):
            await self._call(account, f"STREAM.DELETE.{stream_name}")
