"""The floors `invoke bench --baseline` holds the service and the gateway against: bare programs
doing the same wire work, each in a process of its own whose CPU is read from /proc.

The service floor runs on a stream and subjects of its own (made here, removed after), so it
never shares the service's queue group or writes into customer-balances.
"""

from __future__ import annotations

import asyncio
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from nats.aio.client import Client
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.nuid import NUID

from devkit.bench.closed_loop import count_calls
from devkit.bench.load import LoadResult, connect
from devkit.bench.plan import BenchError, LoadPlan, ServiceAddress
from devkit.bench.stats import process_cpu_seconds
from devkit.caller import CallError, connect_client
from service import names
from service.protocol import encode_request

FLOOR_SUBJECT_ROOT = "bench.floor"
"""The service floor's subjects: `bench.floor.<run>.requests` and `bench.floor.<run>.events.>`,
outside `customer.balance.>` so no replica and no customer-balances stream sees them."""
FLOOR_STREAM_PREFIX = "bench-floor-"
FLOOR_STREAM_MAX_BYTES = 8 * 1024 * 1024
"""Every stream in the account must set max_bytes; 8 MiB fits beside the service's own."""
READY_WITHIN_S = 15.0
READY = "ready"
"""What a floor process prints once it serves (the gateway floor adds its port)."""


@dataclass(frozen=True)
class FloorRun:
    """What a floor did under load: requests (counted as for the component it is the floor
    of), its own CPU seconds meanwhile."""

    requests: int
    cpu_s: float
    duration_s: float

    @property
    def cpu_us_per_request(self) -> float | None:
        return self.cpu_s / self.requests * 1e6 if self.requests else None

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


@dataclass(frozen=True)
class FloorProcess:
    pid: int
    ready_line: str
    """What the process printed once it was ready (the gateway floor adds its port)."""

    def cpu_seconds(self) -> float:
        seconds = process_cpu_seconds(self.pid)
        if seconds is None:
            raise BenchError(f"cannot read the CPU time of the floor process {self.pid}")
        return seconds


@contextmanager
def floor_process(module: str, arguments: Sequence[str]) -> Iterator[FloorProcess]:
    """`python -m module arguments...`, ready once it printed its first line; stopped after."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None
        try:
            ready, _, _ = select.select([process.stdout], [], [], READY_WITHIN_S)
            line = process.stdout.readline() if ready else b""
            if not line:
                process.kill()
                process.wait()
                errors.seek(0)
                said = errors.read().decode(errors="replace").strip().splitlines()
                raise BenchError(
                    f"the floor {module} did not start: {said[-1] if said else 'no output'}"
                )
            yield FloorProcess(process.pid, line.decode().strip())
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            process.stdout.close()


@asynccontextmanager
async def floor_stream(admin: ServiceAddress, replicas: int) -> AsyncIterator[tuple[str, str]]:
    """A stream of the floor's own for one run, removed after: (stream name, subject root);
    with the service's stream's replicas (R3 on the cluster), so its acks cost the same."""
    run = NUID().next().decode().lower()
    stream, root = f"{FLOOR_STREAM_PREFIX}{run}", f"{FLOOR_SUBJECT_ROOT}.{run}"
    nc = await connect(admin, "customer-bench-floor-stream")
    js = nc.jetstream()
    try:
        await js.add_stream(
            StreamConfig(
                name=stream,
                subjects=[f"{root}.events.>"],
                storage=StorageType.FILE,
                num_replicas=replicas,
                max_bytes=FLOOR_STREAM_MAX_BYTES,
                discard=DiscardPolicy.OLD,
                duplicate_window=names.STREAM_DUPLICATE_WINDOW_S,
            )
        )
        try:
            yield stream, root
        finally:
            await js.delete_stream(stream)
    finally:
        await nc.close()


async def service_floor(
    admin: ServiceAddress,
    ids: Sequence[str],
    concurrency: int,
    duration_s: float,
    *,
    replicas: int = 1,
) -> FloorRun:
    """Drive the bare responder (devkit.bench.service_floor) closed-loop for `duration_s`;
    answered requests count (an error reply does not), as for the service."""
    payloads = [encode_request(i) for i in ids]
    async with floor_stream(admin, replicas) as (stream, root):
        subject = f"{root}.requests"
        arguments = ["--url", admin.url, "--subject", subject]
        arguments += ["--event-prefix", f"{root}.events", "--stream", stream]
        if admin.creds is not None:
            arguments += ["--creds", str(admin.creds)]
        with floor_process("devkit.bench.service_floor", arguments) as floor:
            requester = await connect(admin, "customer-bench-floor-requester")
            try:

                async def call(index: int) -> int:
                    reply = await requester.request(
                        subject, payloads[index % len(payloads)], timeout=5
                    )
                    return 0 if b'"error"' in reply.data else 1

                before = floor.cpu_seconds()
                counted = await count_calls(concurrency, duration_s, call)
                cpu = floor.cpu_seconds() - before
            finally:
                await requester.close()
    return FloorRun(counted.units, round(cpu, 3), counted.seconds)


def gateway_floor(
    nats: ServiceAddress,
    gateway: ServiceAddress,
    plan: LoadPlan,
    drive: Callable[[ServiceAddress, LoadPlan], LoadResult],
) -> FloorRun:
    """The bare aiohttp handler (devkit.bench.gateway_floor), as the client user, driven by the
    same generator and plan as the gateway; every request carried counts, as for the gateway
    (both CPU figures are per request carried: a failed one costs the handler too)."""
    arguments = ["--url", nats.url]
    if nats.creds is not None:
        arguments += ["--creds", str(nats.creds)]
    with floor_process("devkit.bench.gateway_floor", arguments) as floor:
        port = floor.ready_line.split()[-1]
        target = replace(gateway, url=f"http://{names.LOCAL_HOST}:{port}")
        before = floor.cpu_seconds()
        result = drive(target, plan)
        cpu = floor.cpu_seconds() - before
    return FloorRun(result.requests, round(cpu, 3), result.duration_s)


@asynccontextmanager
async def floor_connection(
    url: str, creds: Path | None, name: str
) -> AsyncIterator[tuple[Client, asyncio.Event]]:
    """A floor process's life, the same for both: its connection (as `name`; one line and exit 1
    when it cannot connect), and the event SIGTERM or SIGINT sets."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    try:
        nc = await connect_client(url, name=name, creds=creds)
    except CallError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    try:
        yield nc, stopped
    finally:
        await nc.close()
