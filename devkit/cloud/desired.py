"""What the cloud side of the service is, from the single source of truth: the account, its two
users with exactly the local stack's permissions, the `config` bucket and the event stream with
the settings the service's own bootstrap would create (so the service finds them and agrees).
"""

from __future__ import annotations

from typing import Any, Final

from devkit.auth.permissions import MIB, USERS, jetstream_limits
from devkit.controlplane.models import (
    AccountCreateRequest,
    AccountJwtSettings,
    KvBucketConfig,
    NatsUserCreateRequest,
    Permission,
    ResponsePermission,
    StreamConfig,
    System,
    UserJwtSettings,
)
from service import names
from service.bootstrap import stream_config as nats_stream_config
from service.jetstream_specs import config_bucket, event_stream

CLOUD_JETSTREAM_LIMITS: Final = jetstream_limits(disk_bytes=64 * MIB, memory_bytes=16 * MIB)
"""Room for the stream (STREAM_MAX_BYTES) and the bucket, and every stream must set max_bytes."""

_STREAM_DEFAULTS: Final[dict[str, Any]] = {
    "max_msgs": -1,
    "max_msgs_per_subject": -1,
    "max_consumers": -1,
    "allow_direct": False,
    "allow_rollup_hdrs": False,
    "deny_delete": False,
    "deny_purge": False,
    "sealed": False,
}
"""The fields the document requires that the service leaves at the server's defaults."""


def replicas_for(system: System) -> int:
    """R3 where the system offers it (Synadia Cloud); R1 on one server (the local twin)."""
    return 3 if "R3" in (system.jetstream_tiers or []) else 1


def account_request(name: str, replicas: int) -> AccountCreateRequest:
    return AccountCreateRequest(
        name=name,
        jwt_settings=AccountJwtSettings(
            description=f"{names.SERVICE_NAME} service (invoke cloud-up)",
            limits={"tiered_limits": {f"R{replicas}": CLOUD_JETSTREAM_LIMITS}},
        ),
    )


def user_settings(user: str) -> UserJwtSettings:
    permissions = USERS[user]
    return UserJwtSettings(
        pub=Permission(allow=list(permissions.publish)),
        sub=Permission(allow=list(permissions.subscribe)),
        resp=ResponsePermission(max=1, ttl=0) if permissions.allow_responses else None,
    )


def user_request(user: str, signing_key_group_id: str) -> NatsUserCreateRequest:
    return NatsUserCreateRequest(
        name=user, sk_group_id=signing_key_group_id, jwt_settings=user_settings(user)
    )


def permissions_differ(wanted: UserJwtSettings, found: dict[str, Any]) -> bool:
    """Compares what matters (pub, sub, resp), ignoring order and fields the API adds."""
    for direction in ("pub", "sub"):
        have = found.get(direction) or {}
        want = getattr(wanted, direction)
        if sorted(have.get("allow") or []) != sorted((want.allow if want else None) or []):
            return True
    want_resp = wanted.resp.model_dump() if wanted.resp else None
    return bool((found.get("resp") or None) != want_resp)


def bucket_config(replicas: int) -> KvBucketConfig:
    """The service's `config` bucket in the API's names."""
    bucket = config_bucket(replicas)
    return KvBucketConfig(
        bucket=bucket.name,
        description=bucket.description,
        history=bucket.history,
        max_bytes=bucket.max_bytes,
        num_replicas=bucket.replicas,
        storage="file",
    )


def stream_config(replicas: int) -> StreamConfig:
    """The service's own stream definition in the API's (the server's JSON) field names."""
    as_server_json = nats_stream_config(event_stream(replicas)).as_dict()
    return StreamConfig.model_validate({**_STREAM_DEFAULTS, **as_server_json})
