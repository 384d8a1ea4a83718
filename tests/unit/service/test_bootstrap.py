from __future__ import annotations

from dataclasses import replace

import pytest
from nats.js.api import StorageType
from nats.js.errors import APIError

from service import names
from service.bootstrap import desired_stream, jetstream_settling, stream_differences
from service.settings import Settings


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


def test_the_duplicate_window_spans_the_resend_of_any_allowed_budget() -> None:
    """The recorder resends an event inside half of REQUEST_TIMEOUT_S; the stream must still
    remember the first send's id by then, whatever the setting."""
    (bound,) = [
        m.le for m in Settings.model_fields["request_timeout_s"].metadata if hasattr(m, "le")
    ]
    assert desired_stream(1).duplicate_window == names.STREAM_DUPLICATE_WINDOW_S >= bound / 2


@pytest.mark.parametrize("code", [10005, 10008, 10039])
def test_jetstream_settling_after_start_is_waited_for(code: int) -> None:
    assert jetstream_settling(APIError(code=503, err_code=code, description="settling"))


@pytest.mark.parametrize(
    "error",
    [
        APIError(code=400, err_code=10058, description="stream name already in use"),
        APIError(code=400, err_code=None, description="no code"),
        TimeoutError(),
    ],
)
def test_other_jetstream_errors_are_not_retried(error: BaseException) -> None:
    assert not jetstream_settling(error)
