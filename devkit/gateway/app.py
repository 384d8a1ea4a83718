"""The gateway's HTTP application: who is calling (the token), what they may do (the server
decides, as that token's NATS user), and one error shape for everything that goes wrong.

Nothing a caller sends reaches them as a stack trace: an unexpected failure is a 500 with a
generic message, logged in one line. A call never fails because an earlier one broke the
user's connection: a broken connection is replaced (connections.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from nats.errors import AuthorizationError, ConnectionClosedError, NoServersError
from nats.errors import Error as NatsError

from devkit.gateway import kv, messaging, streams
from devkit.gateway.callers import CONNECTIONS, TOKENS, token_of
from devkit.gateway.connections import ConnectionLostError, UserConnection, UserConnections
from devkit.gateway.errors import GatewayError, error_response
from devkit.gateway.memory import HeapTrimmer
from devkit.gateway.payloads import MAX_BODY
from devkit.gateway.tokens import TokenBook
from devkit.gateway.verdicts import NotConfirmedError, PermissionDenied

log = logging.getLogger(__name__)

Operation = Callable[[web.Request, UserConnection], Awaitable[web.StreamResponse]]


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
        except AuthorizationError:
            raise GatewayError(401, f"NATS refused the token's user {user}") from None
        except (NoServersError, OSError, TimeoutError, NatsError) as error:
            raise GatewayError(503, f"NATS is unreachable: {type(error).__name__}") from None
        try:
            return await operation(request, connection)
        except PermissionDenied as denied:
            verb = "subscribe" if denied.kind == "subscription" else denied.kind
            raise GatewayError(
                403, f"permissions violation: {user} may not {verb} to {denied.subject}"
            ) from None
        except NotConfirmedError as unconfirmed:
            raise GatewayError(
                504, f"NATS did not confirm the call within {unconfirmed.seconds:g} s"
            ) from None
        except (ConnectionLostError, ConnectionClosedError):
            raise GatewayError(503, "the connection to NATS was lost; try again") from None

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
        log.exception("gateway.failed %s %s", request.method, request.rel_url.raw_path)
        return error_response(500, "the gateway failed; the failure was logged")


async def healthz(request: web.Request) -> web.Response:
    """`ok` only when every user's connection would answer a call now: each one is listed."""
    states = request.app[CONNECTIONS].states()
    healthy = all(state == "connected" for state in states.values())
    document = {"status": "ok" if healthy else "degraded", "connections": states}
    return web.Response(
        body=orjson.dumps(document), status=200 if healthy else 503, content_type="application/json"
    )


def create_app(connections: UserConnections, tokens: TokenBook) -> web.Application:
    """`tokens` says which NATS user each token stands for."""
    trimmer = HeapTrimmer()
    app = web.Application(middlewares=[trimmer.notice, one_error_shape], client_max_size=MAX_BODY)
    app.cleanup_ctx.append(trimmer.running)
    app[CONNECTIONS] = connections
    app[TOKENS] = tokens
    subjects = "/v1/nats/subjects/{subject}"
    app.router.add_route("POST", subjects, as_user(messaging.request_reply))
    app.router.add_route("PUT", subjects, as_user(messaging.publish))
    app.router.add_route("GET", subjects, as_user(streams.subscribe))
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
