"""`/v1/nats/subjects/{subject}`: POST is request/reply, PUT publishes, GET subscribes as
Server-Sent Events, as Synadia Cloud's gateway does."""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib

import orjson
from aiohttp import web
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import MaxPayloadError, NoRespondersError, TimeoutError

from devkit.gateway.connections import UserConnection, same_subject
from devkit.gateway.errors import GatewayError
from devkit.gateway.subjects import check_name, check_subject, whole
from service.connection import flush_in_order
from service.protocol import timeout_headers

HEADER_PREFIX = "NatsH-"
DEFAULT_TIMEOUT_MS = 2000
MAX_TIMEOUT_MS = 60_000
MAX_SSE_MESSAGES = 1000


def nats_headers(request: web.Request) -> dict[str, str] | None:
    """`NatsH-<Name>` HTTP headers become NATS header `<Name>`; no other HTTP header does."""
    found = {
        name[len(HEADER_PREFIX) :]: value
        for name, value in request.headers.items()
        if name.lower().startswith(HEADER_PREFIX.lower()) and len(name) > len(HEADER_PREFIX)
    }
    return found or None


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


async def payload(request: web.Request, connection: UserConnection) -> bytes:
    body = await request.read()
    limit = connection.nc.max_payload
    if len(body) > limit:
        raise GatewayError(413, f"a body of {len(body)} bytes is over the max payload ({limit})")
    return body


async def request_reply(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=False)
    timeout_ms = whole(
        "timeout",
        request.query.get("timeout"),
        default=DEFAULT_TIMEOUT_MS,
        low=1,
        high=MAX_TIMEOUT_MS,
    )
    assert timeout_ms is not None
    body = await payload(request, connection)
    nc = connection.nc
    try:
        reply = await connection.verdicts.checked(
            nc.request(
                subject,
                body,
                timeout=timeout_ms / 1000,
                headers={**timeout_headers(timeout_ms / 1000), **(nats_headers(request) or {})},
            ),
            kind="publish",
            matches=same_subject(subject),
        )
    except NoRespondersError:
        raise GatewayError(503, f"no responders on {subject}") from None
    except TimeoutError:
        raise GatewayError(504, f"no reply on {subject} within {timeout_ms} ms") from None
    except MaxPayloadError:
        raise GatewayError(413, "the body is over the max payload") from None
    if wants_json(request):
        return web.Response(body=message_document(reply), content_type="application/json")
    headers = {f"{HEADER_PREFIX}{k}": v for k, v in (reply.headers or {}).items()}
    kind = "text/plain" if "text/plain" in request.headers.get("Accept", "") else None
    return web.Response(
        body=reply.data, headers=headers, content_type=kind or "application/octet-stream"
    )


async def publish(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=False)
    reply = request.query.get("reply") or ""
    if reply:
        check_subject(reply, wildcards=False)
    body = await payload(request, connection)
    nc = connection.nc

    async def publish_and_flush() -> None:
        await nc.publish(subject, body, reply=reply, headers=nats_headers(request))
        await flush_in_order(nc)  # the server's -ERR for a denial arrives before the PONG

    await connection.verdicts.checked(
        publish_and_flush(), kind="publish", matches=same_subject(subject)
    )
    return web.Response(status=200)


async def subscribe(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=True)
    queue = request.query.get("queue") or ""
    if queue:
        check_name("queue", queue)
    limit = whole("limit", request.query.get("limit"), default=None, low=1, high=MAX_SSE_MESSAGES)
    heartbeat_ms = whole(
        "idleHeartbeat", request.query.get("idleHeartbeat"), default=None, low=100, high=600_000
    )
    nc = connection.nc
    arrived: asyncio.Queue[Msg] = asyncio.Queue()

    async def deliver(msg: Msg) -> None:
        await arrived.put(msg)

    async def subscribe_and_flush() -> Subscription:
        subscription = await nc.subscribe(subject, queue=queue, cb=deliver)
        await flush_in_order(nc)
        return subscription

    subscription = await connection.verdicts.checked(
        subscribe_and_flush(),
        kind="subscription",
        matches=same_subject(subject),
        undo=Subscription.unsubscribe,
    )
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    sent = 0
    try:
        while limit is None or sent < limit:
            try:
                msg = await asyncio.wait_for(
                    arrived.get(), None if heartbeat_ms is None else heartbeat_ms / 1000
                )
            except builtins.TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            await response.write(b"event: msg\ndata: " + message_document(msg) + b"\n\n")
            sent += 1
        await response.write(b"event: closed\ndata: {}\n\n")
    except (ConnectionResetError, ConnectionError):
        pass  # the caller went away
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
    return response
