"""One spec for the bucket and the stream: the runtime's bootstrap and `invoke cloud-up` ask
JetStream for the same things, each in its own edge's shape."""

from __future__ import annotations

from devkit.cloud import desired
from service import names
from service.bootstrap import desired_stream
from service.jetstream_specs import config_bucket, event_stream


def test_the_cloud_asks_for_the_bucket_bootstrap_creates() -> None:
    spec = config_bucket(3)
    asked = desired.bucket_config(3)
    assert (
        asked.bucket,
        asked.description,
        asked.history,
        asked.max_bytes,
        asked.num_replicas,
    ) == (
        spec.name,
        spec.description,
        spec.history,
        spec.max_bytes,
        spec.replicas,
    )
    assert asked.storage == "file"
    assert spec.name == names.KV_BUCKET


def test_the_cloud_asks_for_the_stream_bootstrap_creates() -> None:
    spec = event_stream(3)
    asked = desired.stream_config(3)
    ours = desired_stream(3)
    assert asked.name == ours.name == spec.name == names.STREAM_NAME
    assert list(asked.subjects or []) == ours.subjects == list(spec.subjects)
    assert asked.max_bytes == ours.max_bytes == spec.max_bytes
    assert asked.num_replicas == ours.num_replicas == 3
    assert ours.duplicate_window == spec.duplicate_window_s


def test_the_stream_takes_its_size_from_the_caller() -> None:
    assert event_stream(1, max_bytes=64 * 1024).max_bytes == 64 * 1024
    assert desired_stream(1, 64 * 1024).max_bytes == 64 * 1024
