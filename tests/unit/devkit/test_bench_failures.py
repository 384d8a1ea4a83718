"""A failed call is counted as one; a fault of the load generator itself ends the run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from devkit.bench import closed_loop, load
from devkit.bench.load import WorkerJob, WorkerResult
from devkit.bench.plan import ServiceAddress
from devkit.caller import Outcome


def job(target: ServiceAddress, requests: int = 4) -> WorkerJob:
    return WorkerJob(
        target=target,
        ids=("1", "2"),
        offset=0,
        requests=requests,
        concurrency=2,
        timeout_s=2,
        rate=None,
        start_at=0,
    )


async def run(target: ServiceAddress, requests: int = 4) -> WorkerResult:
    return await load._load(job(target, requests), lambda: None)


async def test_a_gateway_that_answers_500_counts_failed_calls() -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=500, text="broken")

    app = web.Application()
    app.router.add_post("/v1/nats/subjects/{subject}", refuse)
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        target = ServiceAddress(
            url=str(server.make_url("")).rstrip("/"), creds=None, http_token="t"
        )
        result = await run(target)
    assert (result.failed, result.ok, result.timeouts) == (4, 0, 0)


async def test_a_gateway_that_never_answers_counts_timeouts() -> None:
    async def hold(request: web.Request) -> web.Response:
        await asyncio.Event().wait()  # never set: the caller's own deadline ends the call
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_post("/v1/nats/subjects/{subject}", hold)
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        target = ServiceAddress(
            url=str(server.make_url("")).rstrip("/"), creds=None, http_token="t"
        )
        held = job(target, requests=2)
        result = await load._load(replace(held, timeout_s=0.01), lambda: None)
    assert (result.timeouts, result.failed) == (2, 0)


async def test_a_fault_of_the_generator_is_not_a_failed_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @asynccontextmanager
    async def broken_asking(
        target: ServiceAddress, *, concurrency: int, timeout_s: float
    ) -> AsyncIterator[Callable[[bytes], Awaitable[Outcome]]]:
        async def ask(payload: bytes) -> Outcome:
            raise TypeError("a bug in the generator")

        yield ask

    monkeypatch.setattr(load, "asking", broken_asking)
    with pytest.raises(TypeError, match="a bug in the generator"):
        await run(ServiceAddress(url="unused", creds=None))


async def test_baseline_counts_nothing_for_a_failed_call() -> None:
    async def fails(index: int) -> int:
        raise TimeoutError

    assert (await closed_loop.count_calls(2, 0.05, fails)).units == 0


async def test_baseline_stops_on_a_fault_of_its_own() -> None:
    async def bug(index: int) -> int:
        raise KeyError(index)

    with pytest.raises(KeyError):
        await closed_loop.count_calls(2, 0.05, bug)
