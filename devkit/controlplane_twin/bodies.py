"""The request bodies the twin reads, field for field as the published document declares them
(tests/unit/devkit/test_controlplane_twin_bodies.py holds them to it): a declared field is
accepted and applied, or refused with a 400 naming it where the twin cannot emulate it; a field
the document does not declare is refused with a 400 naming it, as the real API would.

These are the twin's own, not the client's request models: the client sends a subset, the twin
must read everything any client may send.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from devkit.controlplane.models import ACCOUNT_NAME_LIMIT as NAME_LIMIT
from devkit.controlplane.models import ACCOUNT_NAME_PATTERN as NAME_PATTERN

USER_NAME_PATTERN = r"^\S+$"
"""A user's name is only a label in its JWT: anything but whitespace."""
BUCKET_PATTERN = r"^[A-Za-z0-9_-]+$"
"""JetStream's own rule for a key-value bucket's name."""
DESCRIPTION_LIMIT = 4096
"""Far below the server's 1 MiB max payload, which the JWT carrying it must fit in."""
INT64_MAX = 2**63 - 1


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JetStreamLimits(_Body):
    consumer: int | None = None
    disk_max_stream_bytes: int | None = None
    disk_storage: int | None = None
    max_ack_pending: int | None = None
    max_bytes_required: bool | None = None
    mem_max_stream_bytes: int | None = None
    mem_storage: int | None = None
    streams: int | None = None


class OperatorLimits(JetStreamLimits):
    """NatsLimits, AccountLimits and JetStreamLimits in one object, and the tiers."""

    subs: int | None = None
    data: int | None = None
    payload: int | None = None
    conn: int | None = None
    disallow_bearer: bool | None = None
    exports: int | None = None
    imports: int | None = None
    leaf: int | None = None
    wildcards: bool | None = None
    tiered_limits: dict[str, JetStreamLimits] | None = None


class ExternalAuthorization(_Body):
    auth_users: list[str]
    allowed_accounts: list[str] | None = None
    xkey: str | None = None


class WeightedMapping(_Body):
    subject: str
    cluster: str | None = None
    weight: int | None = Field(default=None, ge=0, le=100)


class AccountJwtSettings(_Body):
    description: str | None = Field(default=None, max_length=DESCRIPTION_LIMIT)
    info_url: str | None = Field(default=None, max_length=DESCRIPTION_LIMIT)
    authorization: ExternalAuthorization | None = None
    limits: OperatorLimits | None = None
    mappings: dict[str, list[WeightedMapping]] | None = None
    revocations: dict[str, int] | None = None
    tags: list[str] | None = None


class AccountCreateRequest(_Body):
    """`auth_type`, connectors and workloads are Synadia Cloud's own services: refused unless
    left at what the twin is (JWT auth, neither service)."""

    name: str = Field(min_length=1, max_length=NAME_LIMIT, pattern=NAME_PATTERN)
    jwt_settings: AccountJwtSettings | None = None
    user_jwt_expires_in_secs: int | None = Field(default=None, ge=0)
    auth_type: Literal["jwt", "tls", "nkey", "username"] | None = None
    connectors: bool | None = None
    connectors_log_stream: str | None = None
    user_cred: str | None = None
    user_secret: str | None = None
    workloads: bool | None = None
    workloads_log_stream: str | None = None


NOT_EMULATED_ACCOUNT_FIELDS: dict[str, object] = {
    "auth_type": "jwt",
    "connectors": False,
    "connectors_log_stream": None,
    "user_cred": None,
    "user_secret": None,
    "workloads": False,
    "workloads_log_stream": None,
}
"""Each such field and the one value the twin takes for it (None: the field must be absent)."""


class Permission(_Body):
    allow: list[str] | None = None
    deny: list[str] | None = None


class ResponsePermission(_Body):
    max: int
    ttl: int


class TimeRange(_Body):
    start: str | None = None
    end: str | None = None


class UserJwtSettings(_Body):
    """NatsCreateUserJwtSettings: Permissions, UserLimits and the rest; all go into the JWT."""

    pub: Permission | None = None
    sub: Permission | None = None
    resp: ResponsePermission | None = None
    src: list[str] | None = None
    times: list[TimeRange] | None = None
    times_location: str | None = None
    subs: int | None = Field(default=None, ge=-1, le=INT64_MAX)
    data: int | None = Field(default=None, ge=-1, le=INT64_MAX)
    payload: int | None = Field(default=None, ge=-1, le=INT64_MAX)
    bearer_token: bool | None = None
    allowed_connection_types: list[str] | None = None
    tags: list[str] | None = None


class NatsUserCreateRequest(_Body):
    name: str = Field(min_length=1, max_length=NAME_LIMIT, pattern=USER_NAME_PATTERN)
    sk_group_id: str
    jwt_expires_in_secs: int | None = Field(default=None, ge=0)
    jwt_settings: UserJwtSettings | None = None


class KvBucketConfig(_Body):
    """JSKVBucketConfig. A mirror or sources would make a bucket of another bucket's data, which
    the twin does not emulate: refused, naming the field."""

    bucket: str = Field(min_length=1, max_length=NAME_LIMIT, pattern=BUCKET_PATTERN)
    storage: Literal["file", "memory"]
    description: str | None = Field(default=None, max_length=DESCRIPTION_LIMIT)
    history: int | None = Field(default=None, ge=0, le=64)
    max_age: int | None = Field(default=None, ge=0)
    max_bytes: int | None = Field(default=None, ge=-1)
    max_value_size: int | None = Field(default=None, ge=-1, le=2**31 - 1)
    compression: bool | None = None
    metadata: dict[str, str] | None = None
    num_replicas: int | None = Field(default=None, ge=1, le=5)
    placement: dict[str, JsonValue] | None = None
    republish: dict[str, JsonValue] | None = None
    limit_marker_ttl: int | None = Field(default=None, ge=0)
    mirror: dict[str, JsonValue] | None = None
    sources: list[dict[str, JsonValue]] | None = None


NOT_EMULATED_BUCKET_FIELDS = ("mirror", "sources")


class StreamConfig(_Body):
    """JSStreamConfigRequest: every declared field goes to the server's STREAM.CREATE as sent,
    so what it accepts is applied and what it refuses is its own 400."""

    name: str = Field(min_length=1, max_length=255, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=DESCRIPTION_LIMIT)
    subjects: Any = None
    retention: Any = None
    storage: Any = None
    discard: Any = None
    discard_new_per_subject: Any = None
    max_age: Any = None
    max_bytes: Any = None
    max_msgs: Any = None
    max_msgs_per_subject: Any = None
    max_msg_size: Any = None
    max_consumers: Any = None
    num_replicas: Any = None
    allow_direct: Any = None
    allow_rollup_hdrs: Any = None
    allow_atomic: Any = None
    allow_batched: Any = None
    allow_msg_counter: Any = None
    allow_msg_schedules: Any = None
    allow_msg_ttl: Any = None
    deny_delete: Any = None
    deny_purge: Any = None
    sealed: Any = None
    no_ack: Any = None
    duplicate_window: Any = None
    compression: Any = None
    consumer_limits: Any = None
    first_seq: Any = None
    metadata: Any = None
    persist_mode: Any = None
    placement: Any = None
    republish: Any = None
    sources: Any = None
    subject_delete_marker_ttl: Any = None
    subject_transform: Any = None
    template_owner: Any = None
