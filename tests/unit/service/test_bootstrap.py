from __future__ import annotations

from dataclasses import replace

from nats.js.api import StorageType

from service.bootstrap import desired_stream, stream_differences


def test_identical_settings_have_no_differences() -> None:
    assert stream_differences(desired_stream(1), desired_stream(1)) == []


def test_server_strings_equal_our_enums() -> None:
    existing = replace(desired_stream(3), storage="file", discard="old", retention="limits")  # type: ignore[arg-type]
    assert stream_differences(existing, desired_stream(3)) == []


def test_every_difference_is_listed() -> None:
    existing = replace(
        desired_stream(1),
        max_bytes=5,
        storage=StorageType.MEMORY,
        subjects=["customer.balance"],
    )
    differences = stream_differences(existing, desired_stream(3))
    assert differences == [
        "subjects: is ['customer.balance'], want ['customer.balance.>']",
        "storage: is memory, want file",
        "max_bytes: is 5, want 10485760",
        "num_replicas: is 1, want 3",
    ]
