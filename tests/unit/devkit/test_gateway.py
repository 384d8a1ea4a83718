"""The gateway's own decisions: which subjects and names it refuses before NATS sees them,
and how it reads a token."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from devkit.gateway.callers import token_of
from devkit.gateway.errors import GatewayError
from devkit.gateway.subjects import check_key, check_name, check_subject, whole


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
