"""`python -m devkit.bench.gateway_floor`: the gateway's work per request and nothing else, in a
process of its own (as the gateway runs) so its CPU can be read like the gateway's.

One aiohttp handler on the gateway's request/reply path: read the body, make one NATS request
as the client user, answer with the reply and its headers as `NatsH-<name>`. No token book, no
per-user connections, no subject checks, no access log: the floor an aiohttp gateway cannot beat.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web
from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from devkit.bench.floors import READY, floor_connection
from devkit.bench.transports import HEADER_PREFIX
from service import names
from service.protocol import timeout_headers

NATS = web.AppKey("nats", Client)


async def request_reply(request: web.Request) -> web.Response:
    """The service's subject only: the floor is no relay for anything else the user may ask."""
    if request.match_info["subject"] != names.REQUEST_SUBJECT:
        return web.Response(status=404)
    nc = request.app[NATS]
    timeout_s = int(request.query.get("timeout", "5000")) / 1000
    body = await request.read()
    try:
        reply = await nc.request(
            names.REQUEST_SUBJECT,
            body,
            timeout=timeout_s,
            headers=timeout_headers(timeout_s),
        )
    except NoRespondersError:
        return web.Response(status=503)
    except TimeoutError:
        return web.Response(status=504)
    headers = {f"{HEADER_PREFIX}{k}": v for k, v in (reply.headers or {}).items()}
    return web.Response(body=reply.data, headers=headers, content_type="text/plain")


async def serve(url: str, creds: Path | None) -> None:
    async with floor_connection(url, creds, "customer-bench-gateway-floor") as (nc, stopped):
        app = web.Application()
        app[NATS] = nc
        app.router.add_post("/v1/nats/subjects/{subject}", request_reply)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, names.LOCAL_HOST, 0).start()
            print(f"{READY} {runner.addresses[0][1]}", flush=True)
            await stopped.wait()
        finally:
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devkit.bench.gateway_floor")
    parser.add_argument("--url", required=True, help="the NATS server")
    parser.add_argument("--creds", type=Path, help="the client user's .creds")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.url, arguments.creds))


if __name__ == "__main__":
    main()
