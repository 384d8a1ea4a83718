"""`GET /v1/nats/subjects/{subject}`: a subscription as Server-Sent Events, as Synadia Cloud's
gateway serves it: `msg` events, heartbeats while idle, `closed` at the end.

A stream holds a bounded backlog (service/names.py); a reader that falls further behind is cut
off, and a stream whose user is revoked (the server closed its connection, or its token is no
longer issued) ends too, each with a `closed` event that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from devkit import platform_names
from devkit.gateway.callers import TOKENS, query_value, token_of
from devkit.gateway.connections import UserConnection, confirmed_flush
from devkit.gateway.messaging import message_document
from devkit.gateway.subjects import check_name, check_subject, whole

MAX_SSE_MESSAGES = 1000
REVOCATION_CHECK_S = 1.0
"""How often an idle stream asks whether its token still stands for a user."""
FAREWELL_S = 5.0
"""How long the `closed` event may wait for a reader that does not read, before the gateway
drops the connection (and what it holds for it)."""


@dataclass
class Backlog:
    """Messages arrived and not yet written, bounded by count and bytes."""

    max_messages: int = platform_names.GATEWAY_SSE_MAX_PENDING_MESSAGES
    max_bytes: int = platform_names.GATEWAY_SSE_MAX_PENDING_BYTES
    messages: deque[Msg] = field(default_factory=deque)
    size: int = 0
    overflowed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def add(self, msg: Msg) -> None:
        if self.overflowed:
            return
        if self.messages and (
            len(self.messages) >= self.max_messages or self.size + len(msg.data) > self.max_bytes
        ):
            self.overflowed = True
            self.messages.clear()  # what it held goes now, not when the reader is cut off
            self.size = 0
        else:
            self.messages.append(msg)
            self.size += len(msg.data)
        self.changed.set()

    def take(self) -> Msg | None:
        if not self.messages:
            self.changed.clear()
            return None
        msg = self.messages.popleft()
        self.size -= len(msg.data)
        return msg


def _event(name: str, document: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + document + b"\n\n"


async def subscribe(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    subject = check_subject(request.match_info["subject"], wildcards=True)
    queue = query_value(request, "queue") or ""
    if queue:
        check_name("queue", queue)
    limit = whole(
        "limit", query_value(request, "limit"), default=None, low=1, high=MAX_SSE_MESSAGES
    )
    heartbeat_ms = whole(
        "idleHeartbeat", query_value(request, "idleHeartbeat"), default=None, low=100, high=600_000
    )
    nc = connection.nc
    backlog = Backlog()

    async def subscribe_and_flush() -> Subscription:
        subscription = await nc.subscribe(subject, queue=queue, cb=backlog.add)
        await confirmed_flush(nc)
        return subscription

    subscription = await connection.verdicts.checked(
        subscribe_and_flush(),
        kind="subscription",
        subject=subject,
        deadline_s=platform_names.GATEWAY_CONFIRM_TIMEOUT_S,
        undo=Subscription.unsubscribe,
    )
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    token = token_of(request)
    holder = request.app[TOKENS].holder(token)
    token_checked = time.monotonic()

    def why_stop() -> str | None:
        nonlocal token_checked
        if backlog.overflowed:
            return "the reader fell behind: more than the gateway holds for one stream"
        if time.monotonic() - token_checked >= REVOCATION_CHECK_S:  # not a file stat a message
            token_checked = time.monotonic()
            if request.app[TOKENS].holder(token) != holder:
                return "the token was revoked"
        if connection.closed.is_set():
            return connection.closed_reason or "the user's connection closed"
        return None

    try:
        reason = await _serve(response, backlog, connection, limit, heartbeat_ms, why_stop)
        await _farewell(request, response, reason)
    except (ConnectionResetError, ConnectionError):
        pass  # the caller went away
    finally:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
    return response


async def _serve(
    response: web.StreamResponse,
    backlog: Backlog,
    connection: UserConnection,
    limit: int | None,
    heartbeat_ms: int | None,
    why_stop: Callable[[], str | None],
) -> str | None:
    """Write events until the limit (None) or a reason to stop (the reason)."""
    sent = 0
    last_write = time.monotonic()
    while limit is None or sent < limit:
        reason = why_stop()
        if reason is not None:
            return reason
        msg = backlog.take()
        if msg is None:
            wait_s = REVOCATION_CHECK_S
            if heartbeat_ms is not None:
                due = last_write + heartbeat_ms / 1000 - time.monotonic()
                if due <= 0:
                    await _write(response, b": heartbeat\n\n", backlog, connection)
                    last_write = time.monotonic()
                    continue
                wait_s = min(wait_s, due)
            await _first(backlog.changed, connection.closed, timeout_s=wait_s)
            continue
        if not await _write(response, _event("msg", message_document(msg)), backlog, connection):
            continue  # cut short by the backlog overflowing or the connection closing
        last_write = time.monotonic()
        sent += 1
    return None


async def _first(*events: asyncio.Event, timeout_s: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _write(
    response: web.StreamResponse, data: bytes, backlog: Backlog, connection: UserConnection
) -> bool:
    """Write, unless the reader falls behind or the user's connection closes meanwhile: a
    reader that does not read would otherwise hold the stream in `write` for ever."""
    writing = asyncio.ensure_future(response.write(data))
    while not writing.done():
        await _first(backlog.changed, connection.closed, timeout_s=REVOCATION_CHECK_S)
        if writing.done():
            break
        backlog.changed.clear()
        if backlog.overflowed or connection.closed.is_set():
            writing.cancel()  # aiohttp has queued the bytes already; only its drain waits
            with contextlib.suppress(asyncio.CancelledError):
                await writing
            return False
    writing.result()
    return True


async def _farewell(request: web.Request, response: web.StreamResponse, reason: str | None) -> None:
    """The `closed` event, with the reason when the gateway ended the stream."""
    document = orjson.dumps({"reason": reason}) if reason is not None else b"{}"
    try:
        await asyncio.wait_for(response.write(_event("closed", document)), FAREWELL_S)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()  # a reader that does not read: drop what is queued for it
