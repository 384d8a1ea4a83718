"""The gateway's HTTP application: who is calling (the token), what they may do (the server
decides, as that token's NATS user), and one error shape for everything that goes wrong.

Nothing a caller sends reaches them as a stack trace: an unexpected failure is a 500 with a
generic message, logged with its detail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from nats.errors import Error as NatsError
from nats.errors import NoServersError

from devkit.gateway import kv, messaging
from devkit.gateway.connections import PermissionDenied, UserConnection, UserConnections
from devkit.gateway.errors import GatewayError, error_response
from devkit.gateway.tokens import TokenBook

log = logging.getLogger(__name__)

Operation = Callable[[web.Request, UserConnection], Awaitable[web.StreamResponse]]
CONNECTIONS: Final = web.AppKey("connections", UserConnections)
TOKENS: Final = web.AppKey("tokens", TokenBook)
MAX_BODY = 8 * 1024 * 1024
"""What aiohttp reads at all; the account's max payload (1 MiB by default) is checked after."""


def token_of(request: web.Request) -> str:
    """`Authorization: <token>` or `Bearer <token>`; SSE may pass `?authorization=` instead."""
    header = request.headers.get("Authorization", "").strip()
    if header.lower().startswith("bearer "):
        header = header[7:].strip()
    if not header and request.method == "GET":
        header = request.query.get("authorization", "").strip()
    return header


def as_user(operation: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        token = token_of(request)
        if not token:
            raise GatewayError(401, "no token: send Authorization: <token> (or Bearer <token>)")
        holder = request.app[TOKENS].holder(token)
        if holder is None:
            raise GatewayError(401, "unknown token")
        user = holder.user
        try:
            connection = await request.app[CONNECTIONS].get(holder)
        except (NoServersError, OSError, TimeoutError, NatsError) as error:
            raise GatewayError(503, f"NATS is unreachable: {error}") from None
        try:
            return await operation(request, connection)
        except PermissionDenied as denied:
            raise GatewayError(
                403, f"permissions violation: {user} may not {denied.kind} to {denied.subject}"
            ) from None

    return handler


@web.middleware
async def one_error_shape(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as error:
        return error.response()
    except web.HTTPException as error:  # 404, 405, 413 from aiohttp itself
        if error.status < 400:
            raise
        return error_response(error.status, error.reason)
    except Exception:
        log.exception("gateway.failed", extra={"path": request.path, "method": request.method})
        return error_response(500, "the gateway failed; the failure was logged")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(connections: UserConnections, tokens: TokenBook) -> web.Application:
    """`tokens` says which NATS user each token stands for."""
    app = web.Application(middlewares=[one_error_shape], client_max_size=MAX_BODY)
    app[CONNECTIONS] = connections
    app[TOKENS] = tokens
    subjects = "/v1/nats/subjects/{subject}"
    app.router.add_route("POST", subjects, as_user(messaging.request_reply))
    app.router.add_route("PUT", subjects, as_user(messaging.publish))
    app.router.add_route("GET", subjects, as_user(messaging.subscribe))
    entries = "/v1/kv/{bucket}/{key}"
    app.router.add_route("GET", entries, as_user(kv.get_entry))
    app.router.add_route("POST", entries, as_user(kv.create_entry))
    app.router.add_route("PUT", entries, as_user(kv.put_entry))
    app.router.add_route("DELETE", entries, as_user(kv.delete_entry))
    app.router.add_route("GET", "/healthz", healthz)

    async def close_connections(app: web.Application) -> None:
        await app[CONNECTIONS].close()

    app.on_cleanup.append(close_connections)
    return app
