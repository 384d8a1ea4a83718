"""One benchmark run end to end (warm-up, load, counters, CPU, baseline, report), and
`invoke bench`'s choice of target and replica counts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from devkit.auth.contexts import config_dir, read_context
from devkit.bench.baseline import measure
from devkit.bench.floors import gateway_floor
from devkit.bench.load import LoadResult, run_load
from devkit.bench.options import BenchOptions, Generator
from devkit.bench.peer import (
    OriginalBuild,
    original_build,
    original_environment,
    replicas_stoppable,
    replicas_stopped,
    run_own_bench,
    running_original,
    seed_marker,
)
from devkit.bench.peer_report import OwnBenchReport, peer_lines, peer_report
from devkit.bench.plan import LoadPlan, ServiceAddress
from devkit.bench.report import (
    BaselineFigures,
    BenchResult,
    RunContext,
    render,
    replica_table,
    result_document,
    write_json,
)
from devkit.bench.stats import (
    CpuProbe,
    container_cpu_seconds,
    cpu_delta,
    cpu_snapshot,
    process_cpu_seconds,
    service_stats,
    stats_delta,
)
from devkit.bench.vegeta import run_vegeta
from devkit.progress import ProgressDisplay
from devkit.project import ROOT
from devkit.stack import compose
from devkit.stack.config import StackConfig, StackError
from devkit.stack.lifecycle import Interrupted, up
from devkit.stack.ownership import owner_value
from devkit.stack.processes import terminate_as_interrupt
from devkit.stack.running import gateway_token
from devkit.stack.state import StackState
from service.operator_errors import OperatorError
from service.settings import Settings


@dataclass(frozen=True)
class BenchRequest:
    target: ServiceAddress
    plan: LoadPlan
    baseline_settings: Settings | None = None
    """Settings of the local stack's DynamoDB (for --baseline); None elsewhere."""
    baseline_target: ServiceAddress | None = None
    """Who may publish into its own inbox for the echo baseline (the local service user)."""
    floor_target: ServiceAddress | None = None
    """Who may make the service floor's own stream (the local admin user), for --baseline."""
    gateway_floor_nats: ServiceAddress | None = None
    """With --http --baseline: where, and as whom, the gateway floor asks (the client user)."""
    stats_target: ServiceAddress | None = None
    """Where `$SRV.STATS` is asked over NATS, when the load goes elsewhere (HTTP)."""
    local_cpu: Mapping[str, CpuProbe] = field(default_factory=dict)
    """Where each local component's CPU seconds are read from (processes or containers)."""
    json_path: Path | None = None
    generator: Generator = "python"
    baseline_seconds: float = 5.0
    context: RunContext = field(default_factory=RunContext)


def warmup_plan(plan: LoadPlan) -> LoadPlan:
    """The warm-up before a measured run: its requests, closed loop, one client."""
    return LoadPlan(plan.warmup, min(plan.concurrency, plan.warmup), plan.timeout_s, plan.ids, 1)


def benchmark(request: BenchRequest, *, say: Callable[[str], None] = print) -> BenchResult:
    """One full run: warm-up, load, the service's own counters, CPU, baseline, report."""
    plan = request.plan
    if plan.warmup:
        say(f"warm-up: {plan.warmup} requests")
        drive(request, warmup_plan(plan))
    stats_target = request.stats_target or request.target
    stats_before = asyncio.run(service_stats(stats_target))
    cpu_before = cpu_snapshot(request.local_cpu)
    with ProgressDisplay(plan.requests, interactive=sys.stdout.isatty()) as display:
        result = drive(request, plan, on_progress=display.update)
    cpu_after = cpu_snapshot(request.local_cpu)
    stats_after = asyncio.run(service_stats(stats_target, expect=len(stats_before)))
    baseline: BaselineFigures | None = None
    if request.baseline_settings is not None and request.baseline_target is not None:
        say(
            f"baseline: {request.baseline_seconds:g} s each of GetItem, BatchGetItem, NATS echo"
            + (" and the service floor" if request.floor_target else "")
        )
        baseline = asyncio.run(
            measure(
                request.baseline_settings,
                request.baseline_target,
                plan.ids,
                plan.concurrency,
                request.baseline_seconds,
                floor_target=request.floor_target,
            )
        )
    if baseline is not None and request.gateway_floor_nats is not None:
        say(f"gateway floor: the same {plan.requests} requests through a bare aiohttp handler")
        floor = gateway_floor(
            request.gateway_floor_nats,
            request.target,
            plan,
            lambda target, floor_plan: drive(replace(request, target=target), floor_plan),
        )
        baseline = baseline.model_copy(
            update={
                "gateway_floor_rps": round(floor.rps, 1),
                "gateway_floor_cpu_us_per_request": None
                if floor.cpu_us_per_request is None
                else round(floor.cpu_us_per_request, 1),
            }
        )
    document = result_document(
        result,
        stats=stats_delta(stats_before, stats_after) if stats_after else None,
        cpu_s=cpu_delta(cpu_before, cpu_after),
        baseline=baseline,
        context=request.context,
    )
    for line in render(document, result):
        say(line)
    if request.json_path is not None:
        write_json(request.json_path, document.document())
        say(f"JSON result: {request.json_path}")
    return document


def drive(
    request: BenchRequest,
    plan: LoadPlan,
    *,
    on_progress: Callable[[int, float], None] | None = None,
) -> LoadResult:
    """The plan, sent by the chosen generator (vegeta reports at the end, not as it goes)."""
    if request.generator == "vegeta":
        return run_vegeta(request.target, plan)
    return run_load(request.target, plan, on_progress=on_progress)


class BenchFailed(OperatorError):
    """More requests failed than --max-failures allows (the report was printed first)."""


def choose_target(
    config: StackConfig, options: BenchOptions, environ: Mapping[str, str]
) -> ServiceAddress:
    """A NATS CLI context, a URL with creds, or (by default) the local stack as the client user."""
    if options.context:
        found = read_context(config_dir(environ), options.context)
        return ServiceAddress(found.url, found.creds)
    if options.server:
        return ServiceAddress(options.server, options.creds)
    if not StackState.load(config.state_path).active:
        raise StackError(
            "the local stack is not running: start it with `invoke up` (or aim elsewhere with"
            " --context or --server)"
        )
    if options.http:
        return ServiceAddress(config.gateway_url, None, http_token=gateway_token(config, "client"))
    return ServiceAddress(config.nats_url, config.client_creds)


def local_cpu(config: StackConfig) -> dict[str, CpuProbe]:
    """The local stack's components: processes (native) or containers' cgroups (docker)."""
    state = StackState.load(config.state_path)
    probes = {
        name: CpuProbe(component.pid, process_cpu_seconds)
        for name, component in state.components.items()  # native; the gateway in both modes
        if component.pid is not None and component.running()
    }
    project = compose.project_of(state)
    if project is not None:
        pids = project.container_pids()
        probes |= {name: CpuProbe(pid, container_cpu_seconds) for name, pid in pids.items()}
    return probes


PERFORMANCE_SETTINGS = (
    "max_concurrency",
    "ddb_batch_max",
    "ddb_batches_in_flight",
    "request_timeout_s",
    "ddb_call_timeout_s",
    "event_ack_timeout_s",
)


def run_context(
    config: StackConfig, *, local: bool, options_http: bool = False, generator: Generator = "python"
) -> RunContext:
    settings = config.service_settings() if local else None
    return RunContext(
        target="local" if local else "remote",
        transport="http" if options_http else "nats",
        generator=generator,
        started_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        commit=repository_commit(),
        service_settings=None
        if settings is None
        else {name: getattr(settings, name) for name in PERFORMANCE_SETTINGS},
    )


def repository_commit() -> str | None:
    """HEAD of the checkout, marked dirty when it has uncommitted changes; None without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def run_for_stack(config: StackConfig, options: BenchOptions, environ: Mapping[str, str]) -> None:
    """`invoke bench`: pick the target, (re)start local replicas per count, run, report."""
    target = choose_target(config, options, environ)
    if options.baseline and not config.service_creds.exists():
        raise StackError("--baseline measures the local stack's DynamoDB and NATS: invoke up")
    counts: list[int | None] = list(options.replica_counts) or [None]
    rows: list[tuple[int, BenchResult]] = []
    state = StackState.load(config.state_path)
    found = state.replica_count if state.active else None
    # The peer's checks and build come first: a machine that cannot run it says so before
    # minutes of load, not after.
    build = peer_build(config) if options.peer else None
    try:
        with terminate_as_interrupt():
            _run_counts(config, options, target, counts, rows)
            _restored(config, options, found)
            if build is not None and rows:
                rows[-1] = (rows[-1][0], run_peer(config, options, target, rows[-1][1], build))
    except (KeyboardInterrupt, Interrupted):
        done = ", ".join(f"{n} replica(s)" for n, _ in rows) or "no run"
        raise Interrupted(
            f"interrupted: finished {done}" + _restored(config, options, found)
        ) from None
    if len(counts) > 1:
        print("\n".join(replica_table(rows)))
        if options.json_path:
            write_json(options.json_path, {"by_replicas": {str(n): d.document() for n, d in rows}})
    failures = sum(failed_requests(document) for _, document in rows)
    if failures > options.max_failures:
        raise BenchFailed(
            f"{failures} requests failed (errors, timeouts, no responders), more than"
            f" --max-failures {options.max_failures}"
        )


def _restored(config: StackConfig, options: BenchOptions, found: int | None) -> str:
    """`--replicas 1,2` leaves the count it found; what it did, for an interrupted run."""
    if not options.replica_counts or found is None:
        return ""
    up(config, replicas=found)
    return f"; the stack runs {found} replica(s) again, as before"


def _run_counts(
    config: StackConfig,
    options: BenchOptions,
    target: ServiceAddress,
    counts: list[int | None],
    rows: list[tuple[int, BenchResult]],
) -> None:
    for count in counts:
        if count is not None:
            up(config, replicas=count)
            print(f"== {count} replica(s) ==")
        document = benchmark(
            BenchRequest(
                target=target,
                plan=options.plan,
                baseline_settings=config.service_settings() if options.baseline else None,
                baseline_target=ServiceAddress(config.nats_url, config.service_creds)
                if options.baseline
                else None,
                floor_target=ServiceAddress(config.nats_url, config.admin_creds)
                if options.baseline
                else None,
                stats_target=ServiceAddress(config.nats_url, config.client_creds)
                if options.http
                else None,
                gateway_floor_nats=ServiceAddress(config.nats_url, config.client_creds)
                if options.http and options.baseline
                else None,
                local_cpu=local_cpu(config) if options.local else {},
                json_path=options.json_path if len(counts) == 1 else None,
                generator=options.generator,
                context=run_context(
                    config,
                    local=options.local,
                    options_http=options.http,
                    generator=options.generator,
                ),
            )
        )
        rows.append((count or 0, document))


def peer_build(config: StackConfig) -> OriginalBuild:
    """The original, built; refused first where it cannot run (its replicas are not processes)."""
    replicas_stoppable(config)
    return original_build(config.root / "peers" / "original")


def run_peer(
    config: StackConfig,
    options: BenchOptions,
    target: ServiceAddress,
    ours: BenchResult,
    build: OriginalBuild,
) -> BenchResult:
    """The original on the same stack under the same plan (its warm-up too), after this
    service; its own benchmark client against it and against this service. Returns `ours`
    with the peer in it."""
    admin = ServiceAddress(config.nats_url, config.admin_creds)
    environment = original_environment(
        config.nats_url,
        config.peer_creds,
        config.table,
        config.dynamodb_endpoint,
        owner=owner_value(config.root),
    )
    request = BenchRequest(target=target, plan=options.plan, generator=options.generator)
    own: list[OwnBenchReport] = []
    print(f"peer: the original service, {options.plan.requests} requests, this service stopped")
    with (
        replicas_stopped(config),
        seed_marker(admin),
        running_original(build.service, environment) as original,
    ):
        plan = options.plan
        if plan.warmup:
            print(f"peer warm-up: {plan.warmup} requests")
            drive(request, warmup_plan(plan))
        before = original.cpu_seconds()
        result = drive(request, plan)
        cpu_s = original.cpu_seconds() - before
        own.append(_own_bench("original", build, config, options))
    own.append(_own_bench("this service", build, config, options))
    document = ours.model_copy(update={"peer": peer_report(result, cpu_s, ours, own)})
    assert document.peer is not None
    for line in peer_lines(document.peer):
        print(line)
    if options.json_path is not None:
        write_json(options.json_path, document.document())
    return document


def _own_bench(
    against: Literal["original", "this service"],
    build: OriginalBuild,
    config: StackConfig,
    options: BenchOptions,
) -> OwnBenchReport:
    """The original's client asks as the peer user: nats.go's `_INBOX.` is its inbox."""
    said = run_own_bench(build.bench, config.nats_url, config.peer_creds, options.plan.requests)
    return OwnBenchReport(
        against=against,
        requests=said.requests,
        seconds=None if said.seconds is None else round(said.seconds, 3),
        rps=None if said.rps is None else round(said.rps, 1),
        said=said.said,
    )


def failed_requests(document: BenchResult) -> int:
    return (
        sum(document.errors.values()) + document.timeouts + document.no_responders + document.failed
    )
