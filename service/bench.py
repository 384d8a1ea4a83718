"""`invoke bench`: load the service the way the original benchmark did, and report what a
performance engineer reads: throughput, latency percentiles, errors by kind, the service's own
`$SRV.STATS`, CPU per component, and (with a baseline) how close the service gets to what
DynamoDB and NATS can do on their own.

Load comes from `clients` processes, each with its own NATS connection, so the generator is
not the bottleneck. Latency is recorded in an HDR histogram; with a fixed arrival rate it is
measured from the scheduled send time, so slow replies are not hidden (coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hdrh.histogram import HdrHistogram
from nats.aio.client import Client
from nats.errors import NoRespondersError, TimeoutError

from service import names
from service.caller import CallError, connect_client

if TYPE_CHECKING:
    from service.stack import StackConfig

LOWEST_US, HIGHEST_US, DIGITS = 1, 120_000_000, 3

ORIGINAL_FIGURES: dict[int, list[tuple[str, float]]] = {
    1_000: [("1 Fargate task, Synadia Cloud", 2.05)],
    10_000: [("1 Fargate task, Synadia Cloud", 20.6)],
    100_000: [("1 Fargate task, Synadia Cloud", 254.8), ("3 Fargate tasks, Synadia Cloud", 94.0)],
}
"""Seconds the original Go benchmark published for N requests at concurrency 1,000."""


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    creds: Path | None


@dataclass(frozen=True)
class LoadPlan:
    requests: int
    concurrency: int
    timeout_s: float
    ids: tuple[str, ...]
    clients: int = 1
    rate: float | None = None
    warmup: int = 0


def parse_ids(spec: str) -> tuple[str, ...]:
    """`1..1000`, `a,b,c`, or a mix: `1..10,vip`."""
    ids: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ".." in part:
            first, last = part.split("..", 1)
            try:
                low, high = int(first), int(last)
            except ValueError:
                raise BenchError(
                    f"--ids range {part!r} must be two integers, like 1..1000"
                ) from None
            if low > high:
                raise BenchError(f"--ids range {part!r} is empty")
            ids.extend(str(n) for n in range(low, high + 1))
        else:
            ids.append(part)
    if not ids:
        raise BenchError("--ids names no customer")
    return tuple(ids)


def split(total: int, parts: int) -> list[int]:
    """Share `total` out as evenly as possible; no part is left empty unless total < parts."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


@dataclass
class WorkerResult:
    histogram: bytes
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    timeouts: int = 0
    no_responders: int = 0
    failed: int = 0
    cpu_s: float = 0.0


@dataclass(frozen=True)
class WorkerJob:
    target: Target
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


async def connect(target: Target, name: str) -> Client:
    try:
        return await connect_client(target.url, name=name, creds=target.creds, connect_timeout_s=5)
    except CallError as error:
        raise BenchError(str(error)) from None


async def _load(job: WorkerJob, progress: Callable[[], None]) -> WorkerResult:
    nc = await connect(job.target, "customer-bench")
    histogram = HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)
    result = WorkerResult(histogram=b"")
    slots = asyncio.Semaphore(job.concurrency)
    loop = asyncio.get_running_loop()
    payloads = [json.dumps({"client_id": i}).encode() for i in job.ids]

    async def one(index: int, scheduled: float | None) -> None:
        try:
            started = scheduled if scheduled is not None else loop.time()
            try:
                msg = await nc.request(
                    names.REQUEST_SUBJECT,
                    payloads[(job.offset + index) % len(payloads)],
                    timeout=job.timeout_s,
                )
            except TimeoutError:
                result.timeouts += 1
                return
            except NoRespondersError:
                result.no_responders += 1
                return
            except Exception:
                result.failed += 1
                return
            histogram.record_value(max(LOWEST_US, int((loop.time() - started) * 1e6)))
            code = (msg.headers or {}).get(names.ERROR_CODE_HEADER)
            if code is None:
                result.ok += 1
            else:
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
    while tasks:
        await asyncio.gather(*list(tasks))
    result.cpu_s = _cpu_seconds() - cpu_before
    result.histogram = histogram.encode()
    await nc.close()
    return result


_counter: Any = None
"""Each generator process's handle on the shared progress counter (set by the pool initializer)."""


def _share_counter(counter: Any) -> None:
    global _counter
    _counter = counter


def worker_main(job: WorkerJob) -> WorkerResult:
    """Entry point of one load-generator process."""

    def progress() -> None:
        with _counter.get_lock():
            _counter.value += 1

    return asyncio.run(_load(job, progress))


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

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def latency_ms(self) -> dict[str, float]:
        h = self.histogram
        if h.get_total_count() == 0:
            return {k: 0.0 for k in ("p50", "p90", "p99", "p999", "max")}
        return {
            "p50": h.get_value_at_percentile(50) / 1000,
            "p90": h.get_value_at_percentile(90) / 1000,
            "p99": h.get_value_at_percentile(99) / 1000,
            "p999": h.get_value_at_percentile(99.9) / 1000,
            "max": h.get_max_value() / 1000,
        }


def run_load(
    target: Target, plan: LoadPlan, *, on_progress: Callable[[int, float], None] | None = None
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
    )


async def service_stats(
    target: Target, *, expect: int = 0, window_s: float = 0.5, patience_s: float = 10.0
) -> dict[str, dict[str, Any]]:
    """Every instance's `$SRV.STATS` endpoint figures, by instance id.

    Waits `window_s` for replies, and up to `patience_s` for `expect` instances: a replica still
    working through a backlog answers late.
    """
    nc = await connect(target, "customer-bench-stats")
    replies: dict[str, dict[str, Any]] = {}
    try:
        inbox = nc.new_inbox()

        async def collect(msg: Any) -> None:
            document = json.loads(msg.data)
            replies[document["id"]] = document["endpoints"][0]

        subscription = await nc.subscribe(inbox, cb=collect)
        await nc.publish(f"$SRV.STATS.{names.SERVICE_NAME}", b"", reply=inbox)
        await asyncio.sleep(window_s)
        waited = window_s
        while len(replies) < expect and waited < patience_s:
            await asyncio.sleep(0.1)
            waited += 0.1
        await subscription.unsubscribe()
    finally:
        await nc.close()
    return replies


def stats_delta(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """What the replicas themselves counted during the run (instances that restarted count whole)."""
    requests = errors = processing_ns = 0
    for instance, now in after.items():
        then = before.get(instance, {})
        requests += now["num_requests"] - then.get("num_requests", 0)
        errors += now["num_errors"] - then.get("num_errors", 0)
        processing_ns += now["processing_time"] - then.get("processing_time", 0)
    return {
        "instances": len(after),
        "requests": requests,
        "errors": errors,
        "average_processing_ms": processing_ns / requests / 1e6 if requests else 0.0,
    }


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a local process (Linux /proc), None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    snapshot = {}
    for name, pid in pids.items():
        seconds = process_cpu_seconds(pid)
        if seconds is not None:
            snapshot[name] = seconds
    return snapshot


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before[name], 3) for name in after if name in before}


def summary_line(result: LoadResult) -> str:
    """The original benchmark's line, for comparison (its "average" is wall time / N)."""
    average_ms = result.duration_s * 1000 / result.requests
    return (
        f"Total of {result.requests} requests, with max concurrency {result.concurrency}, and"
        f" request timeout {result.timeout_s:g}s, completed in {result.duration_s:.3f}s."
        f" Average call took {average_ms:.2f} milliseconds"
    )


def comparison_lines(result: LoadResult) -> list[str]:
    figures = ORIGINAL_FIGURES.get(result.requests)
    if not figures:
        known = ", ".join(f"{n:,}" for n in ORIGINAL_FIGURES)
        return [f"The original published figures for {known} requests only."]
    return [
        f"original, {where}: {seconds:g} s ({result.requests / seconds:,.0f} req/s);"
        f" this run: {result.duration_s:.2f} s ({result.throughput_rps:,.0f} req/s)"
        for where, seconds in figures
    ]


def result_document(
    result: LoadResult,
    *,
    stats: dict[str, Any] | None = None,
    cpu_s: dict[str, float] | None = None,
    baseline: dict[str, float] | None = None,
    machine: dict[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "requests": result.requests,
        "concurrency": result.concurrency,
        "clients": result.clients,
        "rate": result.rate,
        "timeout_s": result.timeout_s,
        "duration_s": round(result.duration_s, 3),
        "throughput_rps": round(result.throughput_rps, 1),
        # Answered in time, per second: what callers got (throughput counts timeouts too).
        "goodput_rps": round(result.ok / result.duration_s, 1) if result.duration_s else 0.0,
        "latency_ms": {k: round(v, 3) for k, v in result.latency_ms().items()},
        "ok": result.ok,
        "errors": result.errors,
        "timeouts": result.timeouts,
        "no_responders": result.no_responders,
        "failed": result.failed,
        "cpu_s": {"generator": round(result.generator_cpu_s, 3), **(cpu_s or {})},
        "service_stats": stats,
        "machine": machine or machine_description(),
    }
    if stats and stats.get("requests"):
        replicas_cpu = sum(v for k, v in (cpu_s or {}).items() if k.startswith("balance-"))
        if replicas_cpu:
            document["service_cpu_us_per_request"] = round(
                replicas_cpu / stats["requests"] * 1e6, 1
            )
    if baseline is not None:
        document["baseline"] = {
            **baseline,
            "fraction_of_getitem": _fraction(result.throughput_rps, baseline.get("getitem_rps")),
            "fraction_of_batchgetitem": _fraction(
                result.throughput_rps, baseline.get("batchgetitem_items_per_s")
            ),
            "fraction_of_nats_echo": _fraction(
                result.throughput_rps, baseline.get("nats_echo_rps")
            ),
        }
    return document


def _fraction(value: float, of: float | None) -> float | None:
    return round(value / of, 3) if of else None


def machine_description() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "note": "load generator and stack share the same cores",
    }


def render(document: Mapping[str, Any], result: LoadResult) -> list[str]:
    latency = document["latency_ms"]
    lines = [
        summary_line(result),
        f"throughput: {document['throughput_rps']:,.1f} req/s over {document['duration_s']} s"
        f" ({document['clients']} generator process(es), concurrency {document['concurrency']});"
        f" answered in time: {document['goodput_rps']:,.1f} req/s",
        "latency ms: "
        + "  ".join(f"{k} {latency[k]:.2f}" for k in ("p50", "p90", "p99", "p999", "max")),
        f"ok {document['ok']}  errors {document['errors'] or 0}  timeouts {document['timeouts']}"
        f"  no responders {document['no_responders']}  other failures {document['failed']}",
    ]
    stats = document.get("service_stats")
    if stats:
        lines.append(
            f"service ($SRV.STATS, {stats['instances']} instance(s)): {stats['requests']} requests,"
            f" {stats['errors']} errors, average processing {stats['average_processing_ms']:.2f} ms"
        )
    cpu = document["cpu_s"]
    lines.append(
        "CPU seconds: " + "  ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
    )
    if "service_cpu_us_per_request" in document:
        lines.append(
            f"service CPU per answered request: {document['service_cpu_us_per_request']} us"
        )
    baseline = document.get("baseline")
    if baseline:
        lines.append(
            f"baseline at concurrency {document['concurrency']}: GetItem {baseline['getitem_rps']:,.0f}/s,"
            f" BatchGetItem {baseline['batchgetitem_items_per_s']:,.0f} items/s,"
            f" NATS echo {baseline['nats_echo_rps']:,.0f} req/s"
        )
        lines.append(
            "service throughput as a fraction of: "
            f"GetItem {baseline['fraction_of_getitem']}, BatchGetItem items {baseline['fraction_of_batchgetitem']},"
            f" NATS echo {baseline['fraction_of_nats_echo']}"
        )
    lines.extend(comparison_lines(result))
    return lines


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))


def context_target(name: str, environ: Mapping[str, str]) -> Target:
    """A NATS CLI context (as `invoke context` writes them) as a target."""
    from service.contexts import config_dir

    path = config_dir(environ) / "context" / f"{name}.json"
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BenchError(f"no readable NATS context {name!r} at {path}") from None
    creds = document.get("creds") or ""
    return Target(
        url=document.get("url") or "nats://127.0.0.1:4222", creds=Path(creds) if creds else None
    )


@dataclass(frozen=True)
class BenchRequest:
    target: Target
    plan: LoadPlan
    baseline_settings: Any = None
    """Settings of the local stack's DynamoDB (for --baseline); None elsewhere."""
    baseline_target: Target | None = None
    """Who may use `_INBOX.` subjects for the echo baseline (the local service user)."""
    local_pids: Mapping[str, int] = field(default_factory=dict)
    json_path: Path | None = None
    baseline_seconds: float = 5.0


class ProgressDisplay:
    """A rich progress bar on a terminal, a plain line every 5 s otherwise."""

    def __init__(self, total: int, *, interactive: bool) -> None:
        self._total = total
        self._interactive = interactive
        self._last_line = 0.0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self._interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("requests"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("load", total=self._total, rate="")
        return self

    def update(self, done: int, elapsed_s: float) -> None:
        rate = done / elapsed_s if elapsed_s > 0 else 0.0
        if self._progress is not None:
            self._progress.update(self._task, completed=done, rate=f"{rate:,.0f} req/s")
        elif elapsed_s - self._last_line >= 5:
            self._last_line = elapsed_s
            print(f"  {done}/{self._total} requests, {rate:,.0f} req/s", flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def benchmark(request: BenchRequest, *, say: Callable[[str], None] = print) -> dict[str, Any]:
    """One full run: warm-up, load, the service's own counters, CPU, baseline, report."""
    plan = request.plan
    if plan.warmup:
        say(f"warm-up: {plan.warmup} requests")
        run_load(
            request.target,
            LoadPlan(plan.warmup, min(plan.concurrency, plan.warmup), plan.timeout_s, plan.ids, 1),
        )
    stats_before = asyncio.run(service_stats(request.target))
    cpu_before = cpu_snapshot(request.local_pids)
    with ProgressDisplay(plan.requests, interactive=sys.stdout.isatty()) as display:
        result = run_load(request.target, plan, on_progress=display.update)
    cpu_after = cpu_snapshot(request.local_pids)
    stats_after = asyncio.run(service_stats(request.target, expect=len(stats_before)))
    baseline_figures = None
    if request.baseline_settings is not None and request.baseline_target is not None:
        say(f"baseline: {request.baseline_seconds:g} s each of GetItem, BatchGetItem and NATS echo")
        from service.baseline import measure

        baseline_figures = asyncio.run(
            measure(
                request.baseline_settings,
                request.baseline_target,
                plan.ids,
                plan.concurrency,
                request.baseline_seconds,
            )
        )
    document = result_document(
        result,
        stats=stats_delta(stats_before, stats_after) if stats_after else None,
        cpu_s=cpu_delta(cpu_before, cpu_after),
        baseline=baseline_figures,
    )
    for line in render(document, result):
        say(line)
    if request.json_path is not None:
        write_json(request.json_path, document)
        say(f"JSON result: {request.json_path}")
    return document


def replica_table(rows: Sequence[tuple[int, Mapping[str, Any]]]) -> list[str]:
    lines = [
        f"{'replicas':>8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'ok':>8} {'errors':>7} {'timeouts':>8}"
    ]
    for replicas, document in rows:
        errors = sum(document["errors"].values())
        lines.append(
            f"{replicas:>8} {document['throughput_rps']:>10,.1f} {document['latency_ms']['p50']:>8.1f}"
            f" {document['latency_ms']['p99']:>8.1f} {document['ok']:>8} {errors:>7} {document['timeouts']:>8}"
        )
    return lines


def run_for_stack(
    config: StackConfig,
    plan: LoadPlan,
    *,
    context: str,
    server: str,
    creds: str,
    json_path: str,
    baseline: bool,
    replicas: str,
    environ: Mapping[str, str],
) -> None:
    """`invoke bench`: pick the target, (re)start local replicas per count, run, report."""
    from service.stack import StackError, StackState, up

    local = not context and not server
    if context:
        target = context_target(context, environ)
    elif server:
        target = Target(server, Path(creds) if creds else None)
    else:
        if not config.client_creds.exists():
            raise StackError("the local stack is not running: invoke up (or give --context)")
        target = Target(config.nats_url, config.client_creds)
    if baseline and not config.service_creds.exists():
        raise StackError("--baseline measures the local stack's DynamoDB and NATS: invoke up")
    counts = [int(n) for n in replicas.split(",") if n.strip()] if replicas else [0]
    if any(counts) and not local:
        raise StackError("--replicas restarts the local stack; it cannot go with a remote target")
    rows = []
    for count in counts:
        if count:
            up(config, replicas=count, mode="native")
            print(f"== {count} replica(s) ==")
        pids = {}
        if local:
            state = StackState.load(config.state_path)
            pids = {n: c.pid for n, c in state.components.items() if c.running()}
        document = benchmark(
            BenchRequest(
                target=target,
                plan=plan,
                baseline_settings=config.settings() if baseline else None,
                baseline_target=Target(config.nats_url, config.service_creds) if baseline else None,
                local_pids=pids,
                json_path=Path(json_path) if json_path and len(counts) == 1 else None,
            )
        )
        rows.append((count, document))
    if len(counts) > 1:
        print("\n".join(replica_table(rows)))
        if json_path:
            write_json(Path(json_path), {"by_replicas": {str(n): d for n, d in rows}})
