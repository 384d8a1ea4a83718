"""What a caller's HTTP request becomes on NATS: its `NatsH-` headers and its body, measured the
way nats-server measures them before it is sent.

nats-server closes a connection that sends a message over its `max_payload`, and it counts the
header block with the body (HPUB's total size). nats-py checks only the body, so a body just
under the limit with the gateway's own headers on top cost every caller of that token their
shared connection. The gateway refuses such a message with a 413 before publishing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web
from nats.aio.client import Client

from devkit.gateway.errors import GatewayError

HEADER_PREFIX = "NatsH-"
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""What nats-py accepts as a header name (an HTTP token); it raises on anything else."""
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")
"""Printable ASCII: nats-py encodes a value as UTF-8, and aiohttp hands over undecodable bytes
as surrogates, which cannot be encoded at all."""
MAX_BODY = 8 * 1024 * 1024
"""What aiohttp reads at all; the server's max payload (1 MiB by default) is checked after."""
_STATUS_LINE = len(b"NATS/1.0\r\n")
_END_OF_BLOCK = len(b"\r\n")


def nats_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """`NatsH-<Name>` HTTP headers become NATS header `<Name>`; no other HTTP header does."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        if not name.lower().startswith(HEADER_PREFIX.lower()) or len(name) <= len(HEADER_PREFIX):
            continue
        key = name[len(HEADER_PREFIX) :]
        if not _HEADER_NAME.match(key):
            raise GatewayError(400, "a NatsH- header name must be an HTTP token")
        if not _HEADER_VALUE.match(value):
            raise GatewayError(400, f"header {name[:80]} must be printable ASCII")
        found[key] = value
    return found or None


def with_deadline(caller: dict[str, str] | None, deadline: dict[str, str]) -> dict[str, str]:
    """The caller's headers with the gateway's deadline header; the gateway's wins, whatever
    case the caller spelled theirs in (a caller's `0` would have told the service to drop it)."""
    reserved = {name.lower() for name in deadline}
    kept = {k: v for k, v in (caller or {}).items() if k.lower() not in reserved}
    return {**kept, **deadline}


def header_block_size(headers: dict[str, str] | None) -> int:
    """The bytes nats-py writes for `headers` (`NATS/1.0`, `Name: value` lines, a blank line);
    0 without headers, when it sends a plain PUB."""
    if headers is None:
        return 0
    lines = sum(
        len(k.strip().encode()) + 2 + len(v.strip().encode()) + 2
        for k, v in headers.items()
        if k.strip()
    )
    return _STATUS_LINE + lines + _END_OF_BLOCK


def check_fits(nc: Client, headers: dict[str, str] | None, body_size: int) -> None:
    """A 413 for a message the server would close the connection over; the limit is the
    `max_payload` of the INFO this connection got."""
    limit = nc.max_payload
    header_size = header_block_size(headers)
    if header_size + body_size > limit:
        raise GatewayError(
            413,
            f"a message of {header_size + body_size} bytes (headers {header_size}, body"
            f" {body_size}) is over the server's max payload ({limit})",
        )


async def read_fitting(request: web.Request, nc: Client, headers: dict[str, str] | None) -> bytes:
    """The body, if it fits with `headers`: refused by its Content-Length before it is read,
    so a body the server would refuse is never buffered (and checked again once read)."""
    check_fits(nc, headers, request.content_length or 0)
    body = await request.read()
    check_fits(nc, headers, len(body))
    return body
