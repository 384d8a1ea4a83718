"""The NATS users of the application account and what each may do: one definition for the local
stack and for the same users in Synadia Cloud."""

from __future__ import annotations

from typing import Any, Final

from devkit import platform_names
from devkit.auth.jwt import Permissions
from service import names

MIB: Final = 1024 * 1024

_KV_STREAM = f"KV_{names.KV_BUCKET}"
_JS = "$JS.API"


def _inbox(user: str) -> str:
    """Everything under the user's private inbox prefix; nobody else may subscribe there."""
    return f"{names.private_inbox_prefix(user)}.>"


SERVICE_PERMISSIONS: Final = Permissions(
    publish=(
        f"{names.EVENT_SUBJECT_PREFIX}.>",
        f"{_JS}.STREAM.INFO.{names.STREAM_NAME}",
        f"{_JS}.STREAM.CREATE.{names.STREAM_NAME}",
        f"{_JS}.STREAM.INFO.{_KV_STREAM}",
        f"{_JS}.STREAM.CREATE.{_KV_STREAM}",
        f"{_JS}.STREAM.MSG.GET.{_KV_STREAM}",
        f"{_JS}.DIRECT.GET.{_KV_STREAM}.>",
        f"$KV.{names.KV_BUCKET}.{names.SEED_KEY_PREFIX}>",
        _inbox(platform_names.SERVICE_USER),
    ),
    subscribe=(
        f"{names.REQUEST_SUBJECT} {names.QUEUE_GROUP}",
        "$SRV.>",
        _inbox(platform_names.SERVICE_USER),
    ),
    allow_responses=True,
)
"""Serve `customer.balance` in queue `q`, answer `$SRV`, record events, keep seed markers in
`config`, use the stream. Replies go out through `allow_responses` (only to a request's reply
subject, once); the service itself refuses reply subjects that are not inboxes
(service.protocol.reply_problem), since the caller chooses them."""

CLIENT_PERMISSIONS: Final = Permissions(
    publish=(names.REQUEST_SUBJECT, "$SRV.>"),
    subscribe=(_inbox(platform_names.CLIENT_USER),),
)
"""Ask for balances and discover the service, with replies in its own inbox; nothing else (no
impersonation, no KV, no streams, nobody else's replies)."""

_EVENTS = names.STREAM_NAME

READER_PERMISSIONS: Final = Permissions(
    publish=(
        f"{_JS}.STREAM.INFO.{_EVENTS}",
        f"{_JS}.CONSUMER.CREATE.{_EVENTS}",
        f"{_JS}.CONSUMER.CREATE.{_EVENTS}.>",
        f"{_JS}.CONSUMER.DURABLE.CREATE.{_EVENTS}.>",
        f"{_JS}.CONSUMER.INFO.{_EVENTS}.>",
        f"{_JS}.CONSUMER.DELETE.{_EVENTS}.>",
        f"{_JS}.CONSUMER.MSG.NEXT.{_EVENTS}.>",
        f"{_JS}.CONSUMER.LIST.{_EVENTS}",
        f"{_JS}.CONSUMER.NAMES.{_EVENTS}",
        f"$JS.ACK.{_EVENTS}.>",
    ),
    subscribe=(_inbox(platform_names.READER_USER),),
)
"""The data platform's seat: its own pull consumers on the event stream, and acks; nothing else
(no service subjects, no KV, no changes to the stream, no direct reads of stored messages)."""

USERS: Final = {
    platform_names.SERVICE_USER: SERVICE_PERMISSIONS,
    platform_names.CLIENT_USER: CLIENT_PERMISSIONS,
    platform_names.READER_USER: READER_PERMISSIONS,
}
"""The users of the application account, locally and in the cloud, by name."""

ADMIN_PERMISSIONS: Final = Permissions(publish=(">",), subscribe=(">",), allow_responses=True)
"""Everything in the local account: inspect and fix streams and buckets with the NATS CLI."""

PEER_PERMISSIONS: Final = Permissions(
    publish=(
        names.REQUEST_SUBJECT,
        f"{names.EVENT_SUBJECT_PREFIX}.>",
        f"{_JS}.STREAM.INFO.{_KV_STREAM}",
        f"{_JS}.STREAM.MSG.GET.{_KV_STREAM}",
        f"{_JS}.DIRECT.GET.{_KV_STREAM}.>",
    ),
    subscribe=(
        f"{names.REQUEST_SUBJECT} {names.QUEUE_GROUP}",
        "$SRV.>",
        f"{names.INBOX_PREFIX}.>",
    ),
    allow_responses=True,
)
"""The original service and its benchmark client (`invoke bench --peer original`): serve and ask
`customer.balance`, publish its events, read the `seed` key; replies in nats.go's default
`_INBOX.`, which none of the other users shares. No stream or bucket changes, no other inbox."""

LOCAL_ONLY_USERS: Final = {
    platform_names.ADMIN_USER: ADMIN_PERMISSIONS,
    platform_names.PEER_USER: PEER_PERMISSIONS,
}
"""Users of the local stack only, never created in the cloud."""


def jetstream_limits(*, disk_bytes: int, memory_bytes: int) -> dict[str, Any]:
    """A JetStream tier like a Synadia Cloud account's: every stream or bucket must set max_bytes."""
    return {
        "mem_storage": memory_bytes,
        "disk_storage": disk_bytes,
        "streams": 10,
        "consumer": 100,
        "max_ack_pending": -1,
        "mem_max_stream_bytes": -1,
        "disk_max_stream_bytes": -1,
        "max_bytes_required": True,
    }


JETSTREAM_R1_LIMITS: Final = jetstream_limits(disk_bytes=128 * MIB, memory_bytes=32 * MIB)
"""The local account's R1 tier: room for the 10 MiB stream and the bucket many times over, and a
small share of the server's 1 GB of disk and 256 MB of memory, which every account with
JetStream reserves its limits from (the control-plane twin's accounts too)."""
JETSTREAM_R3_LIMITS: Final = jetstream_limits(disk_bytes=128 * MIB, memory_bytes=32 * MIB)
"""The local account's R3 tier, on the cluster only: the stream and the bucket as `cloud-up`
makes them where Synadia Cloud offers R3 (max_bytes required, as in R1). A tier's storage limit
is counted on each server, which holds one replica of each R3 stream."""
