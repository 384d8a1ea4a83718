"""How a load generator asks: NATS request/reply, or HTTP through the gateway (the cloud's
HTTP callers' path). Both give the same outcomes, so the report is the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from nats.errors import TimeoutError

from devkit.bench.plan import BenchError, ServiceAddress
from devkit.caller import NO_RESPONDERS, TIMEOUT, CallError, Outcome, ask_outcome, connect_client
from service import names
from service.protocol import decode_reply

Ask = Callable[[bytes], Awaitable[Outcome]]
HEADER_PREFIX = "NatsH-"


@asynccontextmanager
async def asking(
    target: ServiceAddress, *, concurrency: int, timeout_s: float
) -> AsyncIterator[Ask]:
    if target.http_token is not None:
        async with _over_http(target, concurrency=concurrency, timeout_s=timeout_s) as over_http:
            yield over_http
        return
    try:
        nc = await connect_client(
            target.url, name="customer-bench", creds=target.creds, connect_timeout_s=5
        )
    except CallError as error:
        raise BenchError(str(error)) from None

    async def ask(payload: bytes) -> Outcome:
        return await ask_outcome(nc, payload, timeout_s=timeout_s)

    try:
        yield ask
    finally:
        await nc.close()


@asynccontextmanager
async def _over_http(
    target: ServiceAddress, *, concurrency: int, timeout_s: float
) -> AsyncIterator[Ask]:
    url = f"{target.url}/v1/nats/subjects/{names.REQUEST_SUBJECT}?timeout={int(timeout_s * 1000)}"
    headers = {"Authorization": target.http_token or "", "Accept": "text/plain"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout_s + 1)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def ask(payload: bytes) -> Outcome:
            try:
                async with session.post(url, data=payload, headers=headers) as response:
                    body = await response.read()
                    if response.status == 504:
                        return TIMEOUT
                    if response.status == 503:
                        return NO_RESPONDERS
                    if response.status != 200:
                        raise BenchError(f"the gateway answered {response.status}: {body[:200]!r}")
                    nats_headers = {
                        name[len(HEADER_PREFIX) :]: value
                        for name, value in response.headers.items()
                        if name.startswith(HEADER_PREFIX)
                    }
                    return decode_reply(body, nats_headers)
            except TimeoutError:  # aiohttp's own timeout: the gateway did not answer in time
                return TIMEOUT

        yield ask
