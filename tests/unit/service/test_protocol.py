"""The request decoder: any bytes give a request or a 400, never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service import names, protocol
from service.faults import BadRequestError
from service.protocol import (
    caller_timeout_s,
    decode_reply,
    decode_request,
    encode_balance,
    encode_error,
    encode_request,
    error_headers,
    timeout_headers,
)

# Standard JSON (RFC 8259 as I-JSON narrows it): no NaN or Infinity, no lone surrogates.
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children) | st.dictionaries(text, children),
    max_leaves=10,
)


@given(st.binary(max_size=256))
def test_any_bytes_decode_or_raise_bad_request(data: bytes) -> None:
    try:
        request = decode_request(data)
    except BadRequestError as error:
        assert error.code == 400
        assert error.message
    else:
        assert 1 <= len(request.client_id) <= 64


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=5))
def test_any_json_object_decodes_or_raises_bad_request(document: dict[str, object]) -> None:
    try:
        decode_request(json.dumps(document).encode())
    except BadRequestError as error:
        assert error.code == 400


@given(st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"), st.dictionaries(text, json_values, max_size=3))
def test_valid_ids_round_trip_whatever_else_is_sent(
    client_id: str, extra: dict[str, object]
) -> None:
    document = {**extra, "client_id": client_id}
    assert decode_request(json.dumps(document).encode()).client_id == client_id


def test_integer_ids_become_strings() -> None:
    assert decode_request(b'{"client_id": 678}').client_id == "678"


def test_deep_nesting_is_a_bad_request_not_a_crash() -> None:
    with pytest.raises(BadRequestError):
        decode_request(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)


@pytest.mark.parametrize(
    "body",
    [b'{"client_id":"1","x":NaN}', b'{"client_id":"1","x":Infinity}', b'{"client_id":"\\ud800"}'],
)
def test_what_json_does_not_allow_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequestError, match="not valid JSON"):
        decode_request(body)


def test_floats_are_not_ids() -> None:
    with pytest.raises(BadRequestError, match="must be a string"):
        decode_request(b'{"client_id": 6.78}')


def test_replies_are_compact_json() -> None:
    assert encode_balance(7120) == b'{"balance":7120}'
    assert encode_error(404, "gone") == b'{"error":{"code":404,"message":"gone"}}'
    assert error_headers(404, "gone") == {
        "Nats-Service-Error": "gone",
        "Nats-Service-Error-Code": "404",
    }


def test_the_caller_half_reads_what_the_service_half_writes() -> None:
    assert decode_request(encode_request("678")).client_id == "678"
    answer = decode_reply(encode_balance(7120), None)
    assert (answer.ok, answer.describe()) == (True, '{"balance":7120}')
    error = decode_reply(encode_error(404, "gone"), error_headers(404, "gone"))
    assert (error.ok, error.error_code, error.error_message) == (False, 404, "gone")
    assert error.describe() == "error 404: gone"


def test_a_foreign_error_code_that_is_not_a_number_is_still_an_error() -> None:
    reply = decode_reply(b"", {"Nats-Service-Error-Code": "E42", "Nats-Service-Error": "odd"})
    assert not reply.ok
    assert reply.error_code == 0


def test_the_callers_timeout_travels_in_whole_milliseconds() -> None:
    headers = timeout_headers(2.5)
    assert headers == {names.TIMEOUT_HEADER: "2500"}
    assert caller_timeout_s(headers) == 2.5
    assert caller_timeout_s(timeout_headers(-1)) == 0
    assert caller_timeout_s(None) is None
    assert caller_timeout_s({"Other": "1"}) is None
    assert caller_timeout_s({names.TIMEOUT_HEADER: " 40 "}) == 0.04


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "1e3", "²", "99999999999", "0x10"])
def test_a_malformed_timeout_is_a_400_naming_the_header(value: str) -> None:
    with pytest.raises(BadRequestError, match=f"^header {names.TIMEOUT_HEADER} must be whole"):
        caller_timeout_s({names.TIMEOUT_HEADER: value})


@pytest.mark.parametrize(
    "reply",
    ["_INBOX.abc.def", "_INBOX.x", "_INBOX_client.abc", "_INBOX_a-b_c.x.y"],
)
def test_inboxes_are_answered(reply: str) -> None:
    assert protocol.reply_problem(reply, ("_INBOX_service.",)) is None


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", protocol.NO_REPLY_SUBJECT),
        ("$KV.config.seed.customer-balances", protocol.NOT_AN_INBOX),
        ("customer.balance.999", protocol.NOT_AN_INBOX),
        ("$JS.ACK.customer-balances.c.1.1.1.0.0", protocol.NOT_AN_INBOX),
        ("_INBOX", protocol.NOT_AN_INBOX),
        ("_INBOX.", protocol.NOT_AN_INBOX),
        ("_INBOX..x", protocol.NOT_AN_INBOX),
        ("_INBOXES.x", protocol.NOT_AN_INBOX),
        ("_inbox.x", protocol.NOT_AN_INBOX),  # subjects are case-sensitive
        ("_INBOX.>", protocol.NOT_AN_INBOX),
        ("_INBOX.a.*", protocol.NOT_AN_INBOX),
        ("_INBOX_service.abc.1", protocol.NOT_AN_INBOX),  # the service's own acks
        ("_INBOX.svcnuid.17", protocol.NOT_AN_INBOX),  # the same, on a shared inbox
    ],
)
def test_anything_else_is_refused(reply: str, problem: str) -> None:
    own = ("_INBOX_service.", "_INBOX.svcnuid.")
    assert protocol.reply_problem(reply, own) == problem
