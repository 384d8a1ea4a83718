"""`/v1/nats/subjects/{subject}`: POST is request/reply and PUT publishes, as Synadia Cloud's
gateway does (GET, the event stream, is in streams.py)."""

from __future__ import annotations

import base64

import orjson
from aiohttp import web
from nats.aio.msg import Msg
from nats.errors import MaxPayloadError, NoRespondersError, TimeoutError

from devkit import platform_names
from devkit.gateway.callers import query_value
from devkit.gateway.connections import UserConnection, confirmed_flush
from devkit.gateway.errors import GatewayError
from devkit.gateway.payloads import HEADER_PREFIX, nats_headers, read_fitting, with_deadline
from devkit.gateway.subjects import check_subject, whole
from service.protocol import timeout_headers

DEFAULT_TIMEOUT_MS = 2000
MAX_TIMEOUT_MS = 60_000


def message_document(msg: Msg) -> bytes:
    """The JSON form of a NATS message: `header` maps each name to its values (Go's shape)."""
    return orjson.dumps(
        {
            "subject": msg.subject,
            "reply": msg.reply or "",
            "data": base64.b64encode(msg.data).decode(),
            "header": {name: [value] for name, value in (msg.headers or {}).items()},
        }
    )


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def request_reply(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=False)
    timeout_ms = whole(
        "timeout",
        query_value(request, "timeout"),
        default=DEFAULT_TIMEOUT_MS,
        low=1,
        high=MAX_TIMEOUT_MS,
    )
    assert timeout_ms is not None
    headers = with_deadline(nats_headers(request.headers), timeout_headers(timeout_ms / 1000))
    nc = connection.nc
    body = await read_fitting(request, nc, headers)
    try:
        reply = await connection.verdicts.checked(
            nc.request(subject, body, timeout=timeout_ms / 1000, headers=headers),
            kind="publish",
            subject=subject,
        )
    except NoRespondersError:
        raise GatewayError(503, f"no responders on {subject}") from None
    except TimeoutError:
        raise GatewayError(504, f"no reply on {subject} within {timeout_ms} ms") from None
    except MaxPayloadError:
        raise GatewayError(413, "the body is over the max payload") from None
    if wants_json(request):
        return web.Response(body=message_document(reply), content_type="application/json")
    reply_headers = {f"{HEADER_PREFIX}{k}": v for k, v in (reply.headers or {}).items()}
    kind = "text/plain" if "text/plain" in request.headers.get("Accept", "") else None
    return web.Response(
        body=reply.data, headers=reply_headers, content_type=kind or "application/octet-stream"
    )


async def publish(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=False)
    reply = query_value(request, "reply") or ""
    if reply:
        check_subject(reply, wildcards=False)
    headers = nats_headers(request.headers)
    nc = connection.nc
    body = await read_fitting(request, nc, headers)

    async def publish_and_flush() -> None:
        await nc.publish(subject, body, reply=reply, headers=headers)
        await confirmed_flush(nc)  # the server's -ERR for a denial arrives before the PONG

    await connection.verdicts.checked(
        publish_and_flush(),
        kind="publish",
        subject=subject,
        deadline_s=platform_names.GATEWAY_CONFIRM_TIMEOUT_S,
    )
    return web.Response(status=200)
