"""The API's response shapes, built from the twin's records and the server's own answers.

Plain functions: each takes what the twin knows and returns the JSON document the published API
would send, through the client's models (devkit.controlplane.models), so a shape the client
cannot read fails here first.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from devkit.auth.jwt import decode_claims, identity_from_seed
from devkit.controlplane.models import (
    Account,
    AccountInfo,
    JetStreamAccountLimits,
    JetStreamAccountStats,
    JetStreamApiStats,
    JetStreamTier,
    KvBucket,
    KvBucketConfig,
    NatsUser,
    SigningKeyGroup,
    StreamInfo,
    System,
    SystemInfo,
    Team,
    TeamInfo,
)
from devkit.controlplane_twin import published
from devkit.controlplane_twin.records import AccountRecord, Records, UserRecord
from devkit.controlplane_twin.server_side import ServerAnswer

TEAM_NAME = "local"
SYSTEM_NAME = "local"


def team_info(records: Records) -> TeamInfo:
    return TeamInfo(id=records.team_id, name=TEAM_NAME)


def team(records: Records) -> Team:
    return Team(id=records.team_id, name=TEAM_NAME, created=records.created)


def system_info(records: Records, nats_url: str, tiers: Sequence[str]) -> SystemInfo:
    """`tiers`: what the server behind the twin can hold (tiers.py), the tiers cloud-up reads."""
    return SystemInfo(
        config_mode=False,
        connection_type="Direct",
        id=records.system_id,
        is_tenant=False,
        jetstream_enabled=True,
        name=SYSTEM_NAME,
        state="Connected",
        user_jwt_expires_in_secs=0,
        jetstream_tiers=list(tiers),
        server_urls=nats_url,
    )


def system(records: Records, nats_url: str, tiers: Sequence[str]) -> System:
    return System(
        **system_info(records, nats_url, tiers).model_dump(exclude={"server_urls"}),
        created=records.created,
        has_managed_operator=True,
        has_managed_system_account=True,
        limited=False,
        team=team_info(records),
        updates_available={},
    )


def account_public_key(account: AccountRecord) -> str:
    return identity_from_seed(account.seed).public_key


def account_info(account: AccountRecord) -> AccountInfo:
    return AccountInfo(
        auth_type="jwt",
        id=account.id,
        is_platform_account=False,
        is_scp_account=False,
        is_system_account=False,
        name=account.name,
        user_jwt_expires_in_secs=account.user_jwt_expires_in_secs,
        account_public_key=account_public_key(account),
    )


def account(
    records: Records, record: AccountRecord, nats_url: str, tiers: Sequence[str]
) -> Account:
    js_enabled = any(key in record.limits for key in ("tiered_limits", "disk_storage"))
    return Account(
        **account_info(record).model_dump(),
        connectors=False,
        created=record.created,
        jwt_sync_error="",
        jwt_sync_status="Complete",
        nsc_managed=False,
        system=system_info(records, nats_url, tiers),
        team=team_info(records),
        workloads=False,
        jwt=record.jwt,
        claims=decode_claims(record.jwt),
        claims_info={"js_enabled": js_enabled},
        jwt_settings={
            "description": record.description,
            "limits": record.limits,
            **record.settings,
            **(
                {"revocations": dict[str, JsonValue](record.revocations)}
                if record.revocations
                else {}
            ),
        },
    )


def signing_key_group(record: AccountRecord) -> SigningKeyGroup:
    group = record.signing_key_group
    return SigningKeyGroup(
        created=group.created,
        disabled=False,
        id=group.id,
        is_scoped=False,
        missing_seed=False,
        name=group.name,
        programmatic=False,
    )


def user(records: Records, record: UserRecord, nats_url: str, tiers: Sequence[str]) -> NatsUser:
    owner = records.accounts[record.account_id]
    return NatsUser(
        account=account_info(owner),
        claims=decode_claims(record.jwt),
        created=record.created,
        id=record.id,
        jwt=record.jwt,
        jwt_expires_at_max=0,
        jwt_expires_in_secs=record.jwt_expires_in_secs,
        jwt_settings=record.jwt_settings,
        name=record.name,
        system=system_info(records, nats_url, tiers),
        team=team_info(records),
        user_public_key=identity_from_seed(record.seed).public_key,
        sk_group_id=owner.signing_key_group.id,
    )


def kv_bucket(bucket_id: str, bucket: str, stream: ServerAnswer) -> KvBucket:
    """From the server's STREAM.INFO of `KV_<bucket>`: the bucket's settings, in the API's names."""
    config, state = stream["config"], stream["state"]
    return KvBucket(
        id=bucket_id,
        stream_name=config["name"],
        bytes=state["bytes"],
        num_values=state["messages"],
        config=KvBucketConfig(
            bucket=bucket,
            storage=config["storage"],
            description=config.get("description"),
            history=config["max_msgs_per_subject"],
            max_bytes=config["max_bytes"],
            max_value_size=config.get("max_msg_size", -1),
            num_replicas=config["num_replicas"],
            max_age=config.get("max_age", 0),
            compression=config.get("compression", "none") == "s2",
            **{key: config[key] for key in ("metadata", "placement", "republish") if key in config},
        ),
    )


def declared(found: ServerAnswer, fields: frozenset[str]) -> dict[str, object]:
    return {key: value for key, value in found.items() if key in fields}


def stream(stream_id: str, info: ServerAnswer, kind: str = "stream") -> StreamInfo:
    """The server's STREAM.INFO answer in the API's JSStreamInfoResponse shape: only what the
    document declares (not the JetStream API's own wrapper, nor settings it does not list)."""
    shown = declared(info, published.STREAM_INFO_FIELDS)
    shown["config"] = declared(info["config"], published.STREAM_CONFIG_FIELDS)
    shown["state"] = declared(info["state"], published.STREAM_STATE_FIELDS)
    if "cluster" in info:
        shown["cluster"] = declared(info["cluster"], published.CLUSTER_FIELDS)
    return StreamInfo.model_validate(
        {**shown, "name": info["config"]["name"], "id": stream_id, "jetstream_type": kind}
    )


_TIER_FIELDS = ("consumers", "memory", "reserved_memory", "reserved_storage", "storage", "streams")
_API_FIELDS = ("errors", "inflight", "level", "total")
_LIMIT_FIELDS = (
    "max_ack_pending", "max_consumers", "max_memory", "max_storage", "max_streams",
    "memory_max_stream_bytes", "storage_max_stream_bytes",
)  # fmt: skip


def _tier(found: ServerAnswer) -> JetStreamTier:
    limits = found.get("limits") or {}
    return JetStreamTier(
        **{key: max(0, int(found.get(key) or 0)) for key in _TIER_FIELDS},
        limits=JetStreamAccountLimits(
            **{key: int(limits.get(key) or 0) for key in _LIMIT_FIELDS},
            max_bytes_required=bool(limits.get("max_bytes_required")),
        ),
    )


def account_stats(info: ServerAnswer) -> JetStreamAccountStats:
    """JetStreamAccountStats from the server's `$JS.API.INFO` answer (all zero without
    JetStream)."""
    api = info.get("api") or {}
    return JetStreamAccountStats(
        JetStreamTier=_tier(info),
        api=JetStreamApiStats(**{key: int(api.get(key) or 0) for key in _API_FIELDS}),
        tiers={name: _tier(tier) for name, tier in info["tiers"].items()}
        if info.get("tiers")
        else None,
        domain=info.get("domain") or None,
    )
