"""The load generator: `clients` processes, each with its own NATS connection, so the generator
is not the bottleneck. Latency goes into an HDR histogram; with a fixed arrival rate it is
measured from the scheduled send time, so slow replies are not hidden (coordinated omission).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized

from hdrh.histogram import HdrHistogram
from nats.aio.client import Client
from pydantic import BaseModel

from devkit.bench.plan import BenchError, LoadPlan, ServiceAddress, split
from devkit.bench.transports import asking
from devkit.caller import NO_RESPONDERS, TIMEOUT, CallError, connect_client
from service.protocol import Reply, encode_request

LOWEST_US, HIGHEST_US, DIGITS = 1, 120_000_000, 3


@dataclass
class WorkerResult:
    histogram: bytes
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    no_responders: int = 0
    failed: int = 0
    cpu_s: float = 0.0
    send_s: float = 0.0
    """From the start to the last request sent: with --rate, whether the schedule was kept."""


@dataclass(frozen=True)
class WorkerJob:
    target: ServiceAddress
    ids: tuple[str, ...]
    offset: int
    requests: int
    concurrency: int
    timeout_s: float
    rate: float | None
    start_at: float
    """time.time() at which every worker starts sending, so they run together."""


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def connect(target: ServiceAddress, name: str) -> Client:
    try:
        return await connect_client(target.url, name=name, creds=target.creds, connect_timeout_s=5)
    except CallError as error:
        raise BenchError(str(error)) from None


async def _load(job: WorkerJob, progress: Callable[[], None]) -> WorkerResult:
    histogram = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    result = WorkerResult(histogram=b"")
    slots = asyncio.Semaphore(job.concurrency)
    loop = asyncio.get_running_loop()
    payloads = [encode_request(i) for i in job.ids]
    async with asking(job.target, concurrency=job.concurrency, timeout_s=job.timeout_s) as ask:

        async def one(index: int, scheduled: float | None) -> None:
            try:
                started = scheduled if scheduled is not None else loop.time()
                try:
                    outcome = await ask(payloads[(job.offset + index) % len(payloads)])
                except Exception:
                    result.failed += 1
                    return
                if outcome == TIMEOUT:
                    result.timeouts += 1
                elif outcome == NO_RESPONDERS:
                    result.no_responders += 1
                elif isinstance(outcome, Reply):
                    histogram.record_value(max(LOWEST_US, int((loop.time() - started) * 1e6)))
                    if outcome.ok:
                        result.ok += 1
                    else:
                        code = str(outcome.error_code)
                        result.errors[code] = result.errors.get(code, 0) + 1
            finally:
                slots.release()
                progress()

        await asyncio.sleep(max(0.0, job.start_at - time.time()))
        cpu_before = _cpu_seconds()
        began = loop.time()
        tasks = set()
        for index in range(job.requests):
            scheduled = None
            if job.rate is not None:
                scheduled = began + index / job.rate
                await asyncio.sleep(max(0.0, scheduled - loop.time()))
            await slots.acquire()
            task = asyncio.create_task(one(index, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        result.send_s = loop.time() - began
        while tasks:
            await asyncio.gather(*list(tasks))
        result.cpu_s = _cpu_seconds() - cpu_before
    result.histogram = histogram.encode()
    return result


_counter: Synchronized[int] | None = None
"""Each generator process's handle on the shared progress counter (set by the pool initializer)."""


def _share_counter(counter: Synchronized[int]) -> None:
    global _counter
    _counter = counter


def worker_main(job: WorkerJob) -> WorkerResult:
    """Entry point of one load-generator process."""

    counter = _counter
    assert counter is not None, "set by the pool initializer"

    def progress() -> None:
        with counter.get_lock():
            counter.value += 1

    return asyncio.run(_load(job, progress))


class Latency(BaseModel):
    """Milliseconds at each percentile of the run's HDR histogram; None when nothing was
    answered (a latency of 0 would be a lie)."""

    p50: float | None
    p90: float | None
    p99: float | None
    p999: float | None
    max: float | None

    def rounded(self) -> Latency:
        return Latency(
            **{k: None if v is None else round(v, 3) for k, v in self.model_dump().items()}
        )


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    clients: int
    rate: float | None
    timeout_s: float
    duration_s: float
    histogram: HdrHistogram
    ok: int
    errors: dict[str, int]
    timeouts: int
    no_responders: int
    failed: int
    generator_cpu_s: float
    send_s: float = 0.0
    """The slowest generator's time from start to its last send."""

    @property
    def samples(self) -> int:
        """Replies timed: the histogram's count."""
        return int(self.histogram.get_total_count())

    @property
    def failures(self) -> int:
        return sum(self.errors.values()) + self.timeouts + self.no_responders + self.failed

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def latency_ms(self) -> Latency:
        h = self.histogram
        if h.get_total_count() == 0:
            return Latency(p50=None, p90=None, p99=None, p999=None, max=None)
        return Latency(
            p50=h.get_value_at_percentile(50) / 1000,
            p90=h.get_value_at_percentile(90) / 1000,
            p99=h.get_value_at_percentile(99) / 1000,
            p999=h.get_value_at_percentile(99.9) / 1000,
            max=h.get_max_value() / 1000,
        )


def run_load(
    target: ServiceAddress,
    plan: LoadPlan,
    *,
    on_progress: Callable[[int, float], None] | None = None,
) -> LoadResult:
    """Run the plan in `plan.clients` processes; `on_progress(done, elapsed_s)` while it runs."""
    if plan.requests < 1 or plan.concurrency < 1 or plan.clients < 1:
        raise BenchError("--requests, --concurrency and --clients must be at least 1")
    clients = min(plan.clients, plan.requests)
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    counts = split(plan.requests, clients)
    concurrencies = [max(1, c) for c in split(plan.concurrency, clients)]
    rates = [None if plan.rate is None else plan.rate * n / plan.requests for n in counts]
    start_at = time.time() + 1.5 + 0.3 * clients  # spawn and connect before the clock starts
    offsets = [sum(counts[:i]) for i in range(clients)]
    jobs = [
        WorkerJob(
            target,
            plan.ids,
            offsets[i],
            counts[i],
            concurrencies[i],
            plan.timeout_s,
            rates[i],
            start_at,
        )
        for i in range(clients)
    ]
    with context.Pool(clients, initializer=_share_counter, initargs=(counter,)) as pool:
        pending = pool.map_async(worker_main, jobs)
        while not pending.ready():
            pending.wait(0.5)
            if on_progress is not None and time.time() > start_at:
                on_progress(int(counter.value), time.time() - start_at)
        results: list[WorkerResult] = pending.get()
    duration = time.time() - start_at
    histogram = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    errors: dict[str, int] = {}
    for result in results:
        histogram.add(HdrHistogram.decode(result.histogram))
        for code, count in result.errors.items():
            errors[code] = errors.get(code, 0) + count
    return LoadResult(
        requests=plan.requests,
        concurrency=plan.concurrency,
        clients=clients,
        rate=plan.rate,
        timeout_s=plan.timeout_s,
        duration_s=duration,
        histogram=histogram,
        ok=sum(r.ok for r in results),
        errors=errors,
        timeouts=sum(r.timeouts for r in results),
        no_responders=sum(r.no_responders for r in results),
        failed=sum(r.failed for r in results),
        generator_cpu_s=sum(r.cpu_s for r in results),
        send_s=max(r.send_s for r in results),
    )
