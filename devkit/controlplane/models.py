"""The subset of Synadia Cloud's control-plane API this platform uses, as typed models.

Field names and required fields follow the published OpenAPI document
(`control-plane-openapi.yaml`, version beta); the class docstrings name its schema. Responses
keep the fields this code does not read (`extra="allow"`), so nothing the API sends is lost.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

ACCOUNT_NAME_PATTERN = r"^[^\s.*>/\\]+$"
"""No whitespace, `.`, `*`, `>` or path separators: a subject token, a JetStream name."""
ACCOUNT_NAME_LIMIT = 100

_Item = TypeVar("_Item")

JwtSyncStatus = Literal["InProgress", "Complete", "Failed"]
StorageType = Literal["file", "memory"]


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Page(_Response, Generic[_Item]):
    """Every `...ListResponse`: `{items: [...]}`."""

    items: list[_Item]


class TeamInfo(_Response):
    id: str
    name: str


class Team(TeamInfo):
    """TeamViewResponse."""

    created: str


class SystemInfo(_Response):
    config_mode: bool
    connection_type: Literal["Agent", "Direct"]
    id: str
    is_tenant: bool
    jetstream_enabled: bool
    name: str
    state: Literal["Provisioning", "Connected", "Disconnected"]
    user_jwt_expires_in_secs: int
    jetstream_tiers: list[str] | None = None
    server_urls: str | None = None


class System(SystemInfo):
    """SystemViewResponse."""

    created: str
    has_managed_operator: bool
    has_managed_system_account: bool
    limited: bool
    team: TeamInfo
    updates_available: dict[str, JsonValue]


class AccountInfo(_Response):
    auth_type: Literal["jwt", "tls", "nkey", "username"]
    id: str
    is_platform_account: bool
    is_scp_account: bool
    is_system_account: bool
    name: str
    user_jwt_expires_in_secs: int
    account_public_key: str | None = None


class Account(AccountInfo):
    """AccountViewResponse."""

    connectors: bool
    created: str
    jwt_sync_error: str
    jwt_sync_status: JwtSyncStatus
    nsc_managed: bool
    system: SystemInfo
    team: TeamInfo
    workloads: bool
    jwt: str | None = None
    claims: dict[str, JsonValue] | None = None
    claims_info: dict[str, JsonValue] | None = None
    jwt_settings: dict[str, JsonValue] | None = None


class AccountJwtSettings(_Request):
    """AccountJWTSettings: `limits` is OperatorLimits (NATS, account and JetStream limits)."""

    description: str | None = None
    limits: dict[str, JsonValue] | None = None


class AccountCreateRequest(_Request):
    name: str
    jwt_settings: AccountJwtSettings | None = None
    user_jwt_expires_in_secs: int | None = None


class SigningKeyGroup(_Response):
    """SigningKeyGroupViewResponse."""

    created: str
    disabled: bool
    id: str
    is_scoped: bool
    missing_seed: bool
    name: str
    programmatic: bool


class Permission(_Request):
    allow: list[str] | None = None
    deny: list[str] | None = None


class ResponsePermission(_Request):
    max: int
    ttl: int


class UserJwtSettings(_Request):
    """NatsCreateUserJwtSettings: the user's permissions (Permissions) and limits."""

    pub: Permission | None = None
    sub: Permission | None = None
    resp: ResponsePermission | None = None
    subs: int | None = None
    data: int | None = None
    payload: int | None = None


class NatsUserCreateRequest(_Request):
    name: str
    sk_group_id: str
    jwt_expires_in_secs: int | None = None
    jwt_settings: UserJwtSettings | None = None


class NatsUser(_Response):
    """NatsUserViewResponse."""

    account: AccountInfo
    claims: dict[str, JsonValue]
    created: str
    id: str
    jwt: str
    jwt_expires_at_max: int
    jwt_expires_in_secs: int
    jwt_settings: dict[str, JsonValue]
    name: str
    system: SystemInfo
    team: TeamInfo
    user_public_key: str
    sk_group_id: str | None = None


class GatewayToken(_Response):
    """NatsUserHTTPGWTokenCreateReply."""

    token: str


class KvBucketConfig(BaseModel):
    """JSKVBucketConfig: sent to create a bucket, and returned inside JSKVBucketViewResponse."""

    model_config = ConfigDict(extra="allow", frozen=True)

    bucket: str
    storage: StorageType
    description: str | None = None
    history: int | None = None
    max_bytes: int | None = None
    max_value_size: int | None = None
    num_replicas: int | None = None
    max_age: int | None = None
    compression: bool | None = None
    metadata: dict[str, str] | None = None


class KvBucket(_Response):
    """JSKVBucketViewResponse: `id` names it in later calls, not the bucket name."""

    bytes: int
    config: KvBucketConfig
    id: str
    num_values: int
    stream_name: str


class StreamConfig(BaseModel):
    """JSStreamConfigRequest: the document requires every limit to be stated."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    subjects: list[str] | None = None
    retention: Literal["limits", "interest", "workqueue"]
    storage: StorageType
    discard: Literal["old", "new"]
    max_age: int
    max_bytes: int
    max_msgs: int
    max_msgs_per_subject: int
    max_consumers: int
    num_replicas: int
    allow_direct: bool
    allow_rollup_hdrs: bool
    deny_delete: bool
    deny_purge: bool
    sealed: bool
    description: str | None = None
    duplicate_window: int | None = None


class StreamState(_Response):
    bytes: int
    consumer_count: int
    first_seq: int
    first_ts: str
    last_seq: int
    last_ts: str
    messages: int


class StreamInfo(_Response):
    """JSStreamInfoResponse (JSCommonStreamInfo with the stream's id and config)."""

    config: StreamConfig
    created: str
    id: str
    jetstream_type: Literal["stream", "mirror", "kv-bucket", "object-bucket"]
    name: str
    state: StreamState
    ts: str


class JetStreamApiStats(_Response):
    """JetStreamAPIStats."""

    errors: int
    inflight: int
    level: int
    total: int


class JetStreamAccountLimits(_Response):
    """JetStreamAccountLimits."""

    max_ack_pending: int
    max_consumers: int
    max_memory: int
    max_storage: int
    max_streams: int
    memory_max_stream_bytes: int
    storage_max_stream_bytes: int
    max_bytes_required: bool


class JetStreamTier(_Response):
    """JetStreamTier: an account's usage and its limits, in total or in one tier."""

    consumers: int
    memory: int
    reserved_memory: int
    reserved_storage: int
    storage: int
    streams: int
    limits: JetStreamAccountLimits


class JetStreamAccountStats(_Response):
    """JetStreamAccountStats: the totals under `JetStreamTier`, as the Go struct it mirrors."""

    model_config = ConfigDict(populate_by_name=True)

    totals: JetStreamTier = Field(alias="JetStreamTier")
    api: JetStreamApiStats
    tiers: dict[str, JetStreamTier] | None = None
    domain: str | None = None
