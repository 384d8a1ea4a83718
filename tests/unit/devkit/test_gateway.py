"""The gateway's own decisions: which subjects, names, numbers and headers it refuses before
NATS sees them, how it reads a token, measures a message and keeps tokens out of its log."""

from __future__ import annotations

import logging
import sys

import pytest
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from devkit.gateway.callers import token_of
from devkit.gateway.errors import GatewayError
from devkit.gateway.logs import OneLineFormatter
from devkit.gateway.payloads import header_block_size, nats_headers, with_deadline
from devkit.gateway.server import framework_message
from devkit.gateway.subjects import check_key, check_name, check_subject, flag, whole
from service.logs import redact


@pytest.mark.parametrize("subject", ["customer.balance", "$SRV.PING", "_INBOX.x.y", "a-b_c"])
def test_ordinary_subjects_pass(subject: str) -> None:
    assert check_subject(subject, wildcards=False) == subject


@pytest.mark.parametrize(
    "subject", ["", "a..b", ".a", "a.", "a b", "café", "a*b", "a>.b", "x" * 600, "a\tb"]
)
def test_bad_subjects_are_400(subject: str) -> None:
    with pytest.raises(GatewayError) as refused:
        check_subject(subject, wildcards=True)
    assert refused.value.status == 400


def test_wildcards_only_where_a_subscription_may_use_them() -> None:
    assert check_subject("customer.balance.>", wildcards=True)
    assert check_subject("a.*.c", wildcards=True)
    for subject in (">", "a.*", "a.>"):
        with pytest.raises(GatewayError):
            check_subject(subject, wildcards=False)
    with pytest.raises(GatewayError):
        check_subject("a.>.c", wildcards=True)  # `>` only last


def test_names_keys_and_numbers() -> None:
    assert check_name("bucket", "config") == "config"
    assert check_key("seed.customer-balances") == "seed.customer-balances"
    for bad in ("a b", "", "a.b"):
        with pytest.raises(GatewayError):
            check_name("queue", bad)
    with pytest.raises(GatewayError):
        check_key("..x")
    assert whole("timeout", None, default=2000, low=1, high=60000) == 2000
    for text in ("abc", "0", "60001", "1e3"):
        with pytest.raises(GatewayError):
            whole("timeout", text, default=2000, low=1, high=60000)


def test_tokens_raw_or_bearer_and_on_get_as_a_query() -> None:
    assert token_of(make_mocked_request("POST", "/", headers={"Authorization": "nhg_a"})) == "nhg_a"
    bearer = make_mocked_request("POST", "/", headers={"Authorization": "Bearer nhg_b"})
    assert token_of(bearer) == "nhg_b"
    assert token_of(make_mocked_request("GET", "/x?authorization=nhg_c")) == "nhg_c"
    assert token_of(make_mocked_request("POST", "/x?authorization=nhg_c")) == ""


@pytest.mark.parametrize("text", ["1_000", "+5", "\u0665", " 7", "-1", "1" * 30])
def test_numbers_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(GatewayError) as refused:
        whole("timeout", text, default=2000, low=1, high=60000)
    assert refused.value.status == 400


def test_booleans_are_exactly_true_or_false() -> None:
    assert flag("purge", "true") is True
    assert flag("purge", "false") is False
    assert flag("purge", None) is False
    for text in ("TRUE", "1", "yes", ""):
        with pytest.raises(GatewayError):
            flag("purge", text)


def test_a_key_with_an_empty_token_is_400() -> None:
    for key in ("a..b", ".a", "a."):
        with pytest.raises(GatewayError) as refused:
            check_key(key)
        assert refused.value.status == 400


def test_the_header_block_is_measured_as_nats_py_writes_it() -> None:
    # 1,048,614 - 1,048,576: what nats-server counted on top of a 1 MiB body
    assert header_block_size({"Request-Timeout-Ms": "2000"}) == 38
    assert header_block_size(None) == 0
    assert header_block_size({}) == 12


def test_header_values_must_be_printable_ascii() -> None:
    for value in ("caf\udce9", "café", "a\x00b"):  # aiohttp hands raw Latin-1 over as a surrogate
        with pytest.raises(GatewayError) as refused:
            nats_headers(CIMultiDict({"NatsH-A": value}))
        assert refused.value.status == 400
    plain = CIMultiDict({"NatsH-Trace": "abc", "X-Other": "1", "natsh-lower": "x"})
    assert nats_headers(plain) == {"Trace": "abc", "lower": "x"}


def test_the_gateways_deadline_wins_over_the_callers_in_any_case() -> None:
    caller = {"request-timeout-ms": "0", "Request-Timeout-Ms": "0", "Trace": "t"}
    assert with_deadline(caller, {"Request-Timeout-Ms": "2000"}) == {
        "Trace": "t",
        "Request-Timeout-Ms": "2000",
    }


def test_logs_never_carry_a_token() -> None:
    token = "nhg_" + "A" * 43
    line = (
        f"GET /v1/nats/subjects/a?authorization={token}&x=1 Authorization: Bearer {token}"
        f" {{'Authorization': '{token}'}} authorization=opaque-secret"
    )
    redacted = redact(line)
    assert token not in redacted
    assert "opaque-secret" not in redacted
    assert "x=1" in redacted


def test_an_exception_is_logged_in_one_redacted_line() -> None:
    try:
        raise ValueError("bad request line: GET /?authorization=nhg_secret\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed", None, sys.exc_info())
    line = OneLineFormatter().format(record)
    assert "\n" not in line
    assert "nhg_secret" not in line
    assert "ValueError: bad request line" in line
    assert "Traceback" not in line


def test_the_frameworks_errors_never_quote_the_request() -> None:
    error = LineTooLong(b"GET /" + b"x" * 9000, "8190")
    assert "x" * 20 not in framework_message(400, error)
    assert framework_message(400, BadHttpMethod("G@T")) == "an unknown or malformed method"
