"""The twin's HTTP face: the published paths under /api/core/beta, bearer-token auth, the
documented status codes (201 on create, 204 on delete), and injected faults.

Requests are read with the twin's models of the document's bodies (bodies.py), so a body the
published document would refuse is a 400 naming the field; an unexpected failure is a 500
without detail, logged.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ValidationError

from devkit.controlplane.client import API_PREFIX
from devkit.controlplane.models import GatewayToken, Page
from devkit.controlplane_twin.bodies import (
    AccountCreateRequest,
    KvBucketConfig,
    NatsUserCreateRequest,
    StreamConfig,
)
from devkit.controlplane_twin.errors import TwinError
from devkit.controlplane_twin.faults import FaultRule, Faults
from devkit.controlplane_twin.twin import ControlPlaneTwin

log = logging.getLogger(__name__)

TWIN: Final = web.AppKey("twin", ControlPlaneTwin)
FAULTS: Final = web.AppKey("faults", Faults)
TOKEN: Final = web.AppKey("token", str)
FAULTS_PATH: Final = "/twin/faults"
"""Outside /api: the twin's own switchboard, never part of the published API."""

INJECTED_HEADER: Final = "X-Twin-Fault"
"""Marks an answer the twin was told to give, so a judge of its own answers can tell them apart."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _ok(answer: BaseModel, status: int = 200) -> web.Response:
    """The edge: the twin's typed answer becomes the JSON the published document declares."""
    document = answer.model_dump(
        mode="json", by_alias=True, exclude_none=True, serialize_as_any=True
    )
    return web.json_response(document, status=status)


def _page(items: Sequence[BaseModel]) -> web.Response:
    """Every list: `{items: [...]}` (the document's `...ListResponse`)."""
    return _ok(Page[BaseModel](items=list(items)))


def _plain(document: Mapping[str, object], status: int = 200) -> web.Response:
    """The twin's own answers, outside the published API."""
    return web.json_response(document, status=status)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        said = first["msg"]
        if first["type"] == "extra_forbidden":
            said = "the published document declares no such field"
        raise TwinError(400, f"invalid {model.__name__}: {where}: {said}") from None


@web.middleware
async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Token first, then any injected fault, then the call (its answer held, if told);
    every failure is a JSON message."""
    if request.path == "/healthz":
        return await handler(request)
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token or not hmac.compare_digest(token.encode(), request.app[TOKEN].encode()):
        return _error(401, "missing or unknown personal access token (Authorization: Bearer ...)")
    rule = None
    if request.path.startswith("/api/"):
        rule = request.app[FAULTS].take(request.method, request.path.removeprefix("/api"))
        if rule is not None and rule.status is not None:
            headers = {INJECTED_HEADER: "1"}
            if rule.retry_after_s is not None:
                headers["Retry-After"] = str(rule.retry_after_s)
            return web.Response(status=rule.status, text=rule.body, headers=headers)
    response = await _answer(request, handler)
    if rule is not None and rule.delay_s is not None:
        await asyncio.sleep(rule.delay_s)  # done; the answer is still on its way
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TwinError as error:
        return _error(error.status, error.message)
    except web.HTTPException as error:  # aiohttp's own 404 and 405, in the same shape
        return _error(error.status, f"{error.reason}: {request.method} {request.path}")
    except Exception:
        log.exception("controlplane_twin.unexpected", extra={"path": request.path})
        return _error(500, "internal error in the control-plane twin; see its log")


def routes(twin: ControlPlaneTwin) -> list[web.RouteDef]:
    async def teams(_: web.Request) -> web.Response:
        return _page([twin.team()])

    async def team(request: web.Request) -> web.Response:
        return _ok(twin.team(request.match_info["teamId"]))

    async def system(request: web.Request) -> web.Response:
        return _ok(await twin.system(request.match_info["systemId"]))

    async def account_info(request: web.Request) -> web.Response:
        return _ok(await twin.account_stats(request.match_info["accountId"]))

    async def systems(request: web.Request) -> web.Response:
        return _page(await twin.systems(request.match_info["teamId"]))

    async def accounts(request: web.Request) -> web.Response:
        return _page(await twin.accounts(request.match_info["systemId"]))

    async def create_account(request: web.Request) -> web.Response:
        body = await _body(request, AccountCreateRequest)
        return _ok(await twin.create_account(request.match_info["systemId"], body), 201)

    async def get_account(request: web.Request) -> web.Response:
        return _ok(await twin.account(request.match_info["accountId"]))

    async def delete_account(request: web.Request) -> web.Response:
        await twin.delete_account(request.match_info["accountId"])
        return web.Response(status=204)

    async def sk_groups(request: web.Request) -> web.Response:
        return _page(twin.signing_key_groups(request.match_info["accountId"]))

    async def users(request: web.Request) -> web.Response:
        return _page(await twin.users(request.match_info["accountId"]))

    async def create_user(request: web.Request) -> web.Response:
        body = await _body(request, NatsUserCreateRequest)
        return _ok(await twin.create_user(request.match_info["accountId"], body), 201)

    async def get_user(request: web.Request) -> web.Response:
        return _ok(await twin.user(request.match_info["userId"]))

    async def delete_user(request: web.Request) -> web.Response:
        await twin.delete_user(request.match_info["userId"])
        return web.Response(status=204)

    async def creds(request: web.Request) -> web.Response:
        return web.Response(text=twin.creds(request.match_info["userId"]))

    async def gateway_token(request: web.Request) -> web.Response:
        return _ok(GatewayToken(token=twin.gateway_token(request.match_info["userId"])), 201)

    async def buckets(request: web.Request) -> web.Response:
        return _page(await twin.kv_buckets(request.match_info["accountId"]))

    async def create_bucket(request: web.Request) -> web.Response:
        body = await _body(request, KvBucketConfig)
        return _ok(await twin.create_kv_bucket(request.match_info["accountId"], body), 201)

    async def get_bucket(request: web.Request) -> web.Response:
        return _ok(await twin.kv_bucket(request.match_info["streamId"]))

    async def delete_bucket(request: web.Request) -> web.Response:
        await twin.delete_jetstream(request.match_info["streamId"], "kv-bucket")
        return web.Response(status=204)

    async def streams(request: web.Request) -> web.Response:
        return _page(await twin.streams(request.match_info["accountId"]))

    async def create_stream(request: web.Request) -> web.Response:
        body = await _body(request, StreamConfig)
        return _ok(await twin.create_stream(request.match_info["accountId"], body), 201)

    async def get_stream(request: web.Request) -> web.Response:
        return _ok(await twin.stream(request.match_info["streamId"]))

    async def delete_stream(request: web.Request) -> web.Response:
        await twin.delete_jetstream(request.match_info["streamId"], "stream")
        return web.Response(status=204)

    p = API_PREFIX
    return [
        web.get(f"{p}/teams", teams),
        web.get(f"{p}/teams/{{teamId}}", team),
        web.get(f"{p}/teams/{{teamId}}/systems", systems),
        web.get(f"{p}/systems/{{systemId}}", system),
        web.get(f"{p}/systems/{{systemId}}/accounts", accounts),
        web.post(f"{p}/systems/{{systemId}}/accounts", create_account),
        web.get(f"{p}/accounts/{{accountId}}", get_account),
        web.delete(f"{p}/accounts/{{accountId}}", delete_account),
        web.get(f"{p}/accounts/{{accountId}}/info", account_info),
        web.get(f"{p}/accounts/{{accountId}}/account-sk-groups", sk_groups),
        web.get(f"{p}/accounts/{{accountId}}/nats-users", users),
        web.post(f"{p}/accounts/{{accountId}}/nats-users", create_user),
        web.get(f"{p}/nats-users/{{userId}}", get_user),
        web.delete(f"{p}/nats-users/{{userId}}", delete_user),
        web.post(f"{p}/nats-users/{{userId}}/creds", creds),
        web.post(f"{p}/nats-users/{{userId}}/http-gw-token", gateway_token),
        web.get(f"{p}/accounts/{{accountId}}/jetstream/kv-buckets", buckets),
        web.post(f"{p}/accounts/{{accountId}}/jetstream/kv-buckets", create_bucket),
        web.get(f"{p}/jetstream/kv-bucket/{{streamId}}", get_bucket),
        web.delete(f"{p}/jetstream/kv-bucket/{{streamId}}", delete_bucket),
        web.get(f"{p}/accounts/{{accountId}}/jetstream/streams", streams),
        web.post(f"{p}/accounts/{{accountId}}/jetstream/streams", create_stream),
        web.get(f"{p}/jetstream/stream/{{streamId}}", get_stream),
        web.delete(f"{p}/jetstream/stream/{{streamId}}", delete_stream),
    ]


async def _add_fault(request: web.Request) -> web.Response:
    try:
        rule = FaultRule.model_validate_json(await request.read())
    except ValidationError as error:
        return _error(400, f"invalid fault rule: {error.errors()[0]['msg']}")
    request.app[FAULTS].add(rule)
    return _plain({"rules": len(request.app[FAULTS].rules)}, 201)


async def _faults_fired(request: web.Request) -> web.Response:
    faults = request.app[FAULTS]
    return _plain({"rules": len(faults.rules), "fired": faults.fired})


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return web.Response(status=204)


async def _healthz(_: web.Request) -> web.Response:
    return _plain({"status": "ok"})


def create_app(twin: ControlPlaneTwin, token: str) -> web.Application:
    app = web.Application(middlewares=[guarded], client_max_size=1024 * 1024)
    app[TWIN] = twin
    app[FAULTS] = Faults()
    app[TOKEN] = token
    app.add_routes(routes(twin))
    app.add_routes(
        [
            web.post(FAULTS_PATH, _add_fault),
            web.get(FAULTS_PATH, _faults_fired),
            web.delete(FAULTS_PATH, _clear_faults),
            web.get("/healthz", _healthz),
        ]
    )

    async def start(_: web.Application) -> None:
        await twin.start()

    async def stop(_: web.Application) -> None:
        await twin.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
