"""NATS_CREDENTIALS decoding: the forms Fargate and people produce, and clear errors otherwise."""

from __future__ import annotations

import base64
import json
import time

import pytest

from service.credentials import (
    CredentialsError,
    decode_base64_credentials,
    parse_credentials,
    private_inbox_prefix,
)

USER_SEED = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def creds_text(*, kind: str = "user", exp: int | None = None, newline: str = "\n") -> str:
    claims: dict[str, object] = {"sub": "UABC", "iss": "AABC", "nats": {"type": kind, "version": 2}}
    if exp is not None:
        claims["exp"] = exp
    token = ".".join(
        [b64url(b'{"typ":"JWT","alg":"ed25519-nkey"}'), b64url(json.dumps(claims).encode()), "sig"]
    )
    lines = [
        "-----BEGIN NATS USER JWT-----",
        token,
        "------END NATS USER JWT------",
        "",
        "************************* IMPORTANT *************************",
        "",
        "-----BEGIN USER NKEY SEED-----",
        USER_SEED,
        "------END USER NKEY SEED------",
        "",
    ]
    return newline.join(lines)


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_padded_base64_decodes() -> None:
    credentials = decode_base64_credentials(encoded(creds_text()))
    assert credentials.user_public_key == "UABC"
    assert USER_SEED in credentials.text


def test_unpadded_and_wrapped_base64_with_crlf_decodes() -> None:
    value = encoded(creds_text(newline="\r\n")).rstrip("=")
    wrapped = "\r\n".join(value[i : i + 76] for i in range(0, len(value), 76)) + "\r\n"
    credentials = decode_base64_credentials(wrapped)
    assert "\r" not in credentials.text


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("%%%", "not valid base64"),
        (base64.b64encode(b"\xff\xfe\xfd").decode(), "does not decode to text"),
        (encoded("just some text"), "not a NATS user credentials file"),
        (encoded(creds_text(kind="account")), "not a user JWT"),
        (encoded(creds_text(exp=int(time.time()) - 60)), "expired"),
    ],
)
def test_bad_values_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(CredentialsError, match=says) as raised:
        decode_base64_credentials(value)
    assert USER_SEED not in str(raised.value)


def test_a_future_expiry_is_fine() -> None:
    credentials = parse_credentials(creds_text(exp=int(time.time()) + 3600), source="test")
    assert credentials.expires_at is not None


def test_repr_hides_the_seed() -> None:
    assert USER_SEED not in repr(parse_credentials(creds_text(), source="test"))


@pytest.mark.parametrize(
    ("allowed", "prefix"),
    [
        (["_INBOX_client.>"], "_INBOX_client"),
        (["$SRV.>", "_INBOX_reader.>"], "_INBOX_reader"),
        (["_INBOX.>"], None),  # the shared one
        ([">"], None),
        (["_INBOX_a.>", "_INBOX_b.>"], None),  # two: none is the user's own
        (["_INBOX_a.b.>"], None),
        (["_INBOX_a.*"], None),
        ([], None),
    ],
)
def test_the_private_inbox_comes_from_the_subscribe_permission(
    allowed: list[str], prefix: str | None
) -> None:
    assert private_inbox_prefix({"type": "user", "sub": {"allow": allowed}}) == prefix


def test_no_subscribe_permission_means_the_shared_inbox() -> None:
    assert private_inbox_prefix({"type": "user"}) is None
    assert parse_credentials(creds_text(), source="x").inbox_prefix is None
