"""What the service needs in JetStream, as typed specs: the `config` bucket and the event stream.

One definition, read twice: the runtime's bootstrap creates them from these (`service.bootstrap`)
and `invoke cloud-up` asks the control-plane API for the same (`devkit.cloud.desired`), each
turning the spec into its own edge's shape (nats-py's configs, the API's JSON). Both live on
file storage; the stream keeps events by limits and drops the oldest when full.
"""

from __future__ import annotations

from dataclasses import dataclass

from service import names


@dataclass(frozen=True)
class BucketSpec:
    """A key-value bucket (file storage)."""

    name: str
    description: str
    history: int
    max_bytes: int
    replicas: int


@dataclass(frozen=True)
class StreamSpec:
    """A stream (file storage, limits retention, the oldest discarded when full)."""

    name: str
    description: str
    subjects: tuple[str, ...]
    max_age_s: int
    max_bytes: int
    replicas: int
    duplicate_window_s: int


def config_bucket(replicas: int) -> BucketSpec:
    """The `config` bucket: service coordination (the seed markers)."""
    return BucketSpec(
        name=names.KV_BUCKET,
        description="Service coordination: seed markers",
        history=1,
        max_bytes=names.KV_MAX_BYTES,
        replicas=replicas,
    )


def event_stream(replicas: int, max_bytes: int = names.STREAM_MAX_BYTES) -> StreamSpec:
    """The event stream: one event per answered request."""
    return StreamSpec(
        name=names.STREAM_NAME,
        description="One event per answered customer.balance request",
        subjects=names.STREAM_SUBJECTS,
        max_age_s=names.STREAM_MAX_AGE_S,
        max_bytes=max_bytes,
        replicas=replicas,
        duplicate_window_s=names.STREAM_DUPLICATE_WINDOW_S,
    )
