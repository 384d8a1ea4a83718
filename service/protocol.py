"""The wire format of `customer.balance`, both halves: what the service decodes and encodes,
and what a caller encodes and decodes. Every client in the repository uses the caller half."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from service import names
from service.faults import BadRequestError

_CLIENT_ID = re.compile(names.CLIENT_ID_PATTERN)


@dataclass(frozen=True)
class BalanceRequest:
    client_id: str


def decode_request(data: bytes) -> BalanceRequest:
    """Any bytes give a request or a BadRequestError that says what is wrong."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        # orjson also refuses invalid UTF-8, lone surrogates and nesting past 1,024 levels.
        raise BadRequestError(f"request body is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise BadRequestError("request body must be a JSON object")
    if "client_id" not in document:
        raise BadRequestError("client_id is missing")
    client_id = document["client_id"]
    # bool is an int subclass; `true` is not an id.
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str):
        raise BadRequestError("client_id must be a string")
    if not is_client_id(client_id):
        raise BadRequestError("client_id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return BalanceRequest(client_id=client_id)


NO_REPLY_SUBJECT = "request has no reply subject"
NOT_AN_INBOX = "reply subject is not an inbox"
_INBOX = re.compile(rf"{names.INBOX_PREFIX}(_[A-Za-z0-9_-]+)?\.[^.]")


def reply_problem(reply: str, own_inboxes: tuple[str, ...] = ()) -> str | None:
    """Why the service will not publish to `reply`, or None: it only answers into an inbox.

    The caller chooses the reply subject, and the service would publish there with its own
    permissions: `$KV.config.seed.<table>` would overwrite the seed marker, `customer.balance.999`
    would record a false event, `$JS.ACK...` is a stream's delivery aimed at the endpoint.
    Inboxes are `_INBOX.` (nats-py's and the CLI's default) and the private `_INBOX_<user>.`,
    except the service's own (`own_inboxes`), where a reply would pose as a stream's ack.
    """
    if not reply:
        return NO_REPLY_SUBJECT
    if _INBOX.match(reply) is None or "*" in reply or ">" in reply or reply.startswith(own_inboxes):
        return NOT_AN_INBOX
    return None


def is_client_id(text: str) -> bool:
    return _CLIENT_ID.fullmatch(text) is not None


def encode_balance(balance: int) -> bytes:
    return encode_json({"balance": balance})


def encode_error(code: int, message: str) -> bytes:
    return encode_json({"error": {"code": code, "message": message}})


def error_headers(code: int, message: str) -> dict[str, str]:
    return {names.ERROR_HEADER: message, names.ERROR_CODE_HEADER: str(code)}


def encode_json(document: object) -> bytes:
    """Compact JSON: no spaces, UTF-8."""
    return orjson.dumps(document)


def encode_request(client_id: str) -> bytes:
    """The caller's half: the request body for one customer."""
    return encode_json({"client_id": client_id})


def timeout_headers(timeout_s: float) -> dict[str, str]:
    """The caller's half: how long it will wait, sent with the request."""
    return {names.TIMEOUT_HEADER: str(max(0, int(timeout_s * 1000)))}


def caller_timeout_s(headers: Mapping[str, str] | None) -> float | None:
    """The service's half: the caller's timeout in seconds, None when it sent none."""
    value = (headers or {}).get(names.TIMEOUT_HEADER)
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > names.MAX_CALLER_TIMEOUT_MS:
        raise BadRequestError(
            f"header {names.TIMEOUT_HEADER} must be whole milliseconds from 0 to"
            f" {names.MAX_CALLER_TIMEOUT_MS}, not {value[:40]!r}"
        )
    return int(text) / 1000


@dataclass(frozen=True)
class Reply:
    """A reply as a caller sees it: the body, and the micro error headers when it is an error."""

    data: bytes
    error_code: int | None = None
    """None for an answer; 0 when a responder sent a code that is not a number."""
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None

    def describe(self) -> str:
        """What a person should see: the raw reply, or the code and message."""
        if self.ok:
            return self.data.decode(errors="replace")
        return f"error {self.error_code}: {self.error_message}"


def decode_reply(data: bytes, headers: Mapping[str, str] | None) -> Reply:
    """The caller's half: an error is told by the `Nats-Service-Error-Code` header, not the body."""
    code = (headers or {}).get(names.ERROR_CODE_HEADER)
    if code is None:
        return Reply(data)
    number = int(code) if code.strip().isdigit() else 0
    return Reply(data, number, (headers or {}).get(names.ERROR_HEADER, ""))
