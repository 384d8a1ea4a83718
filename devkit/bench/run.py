"""One benchmark run end to end (warm-up, load, counters, CPU, baseline, report), and
`invoke bench`'s choice of target and replica counts."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devkit.auth.contexts import config_dir, read_context
from devkit.bench.baseline import measure
from devkit.bench.load import run_load
from devkit.bench.plan import LoadPlan, Target
from devkit.bench.progress import ProgressDisplay
from devkit.bench.report import (
    BaselineFigures,
    BenchResult,
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
from devkit.stack import compose
from devkit.stack.config import StackConfig, StackError
from devkit.stack.lifecycle import up
from devkit.stack.state import StackState
from service.settings import Settings


@dataclass(frozen=True)
class BenchRequest:
    target: Target
    plan: LoadPlan
    baseline_settings: Settings | None = None
    """Settings of the local stack's DynamoDB (for --baseline); None elsewhere."""
    baseline_target: Target | None = None
    """Who may use `_INBOX.` subjects for the echo baseline (the local service user)."""
    local_cpu: Mapping[str, CpuProbe] = field(default_factory=dict)
    """Where each local component's CPU seconds are read from (processes or containers)."""
    json_path: Path | None = None
    baseline_seconds: float = 5.0


def benchmark(request: BenchRequest, *, say: Callable[[str], None] = print) -> BenchResult:
    """One full run: warm-up, load, the service's own counters, CPU, baseline, report."""
    plan = request.plan
    if plan.warmup:
        say(f"warm-up: {plan.warmup} requests")
        run_load(
            request.target,
            LoadPlan(plan.warmup, min(plan.concurrency, plan.warmup), plan.timeout_s, plan.ids, 1),
        )
    stats_before = asyncio.run(service_stats(request.target))
    cpu_before = cpu_snapshot(request.local_cpu)
    with ProgressDisplay(plan.requests, interactive=sys.stdout.isatty()) as display:
        result = run_load(request.target, plan, on_progress=display.update)
    cpu_after = cpu_snapshot(request.local_cpu)
    stats_after = asyncio.run(service_stats(request.target, expect=len(stats_before)))
    baseline: BaselineFigures | None = None
    if request.baseline_settings is not None and request.baseline_target is not None:
        say(f"baseline: {request.baseline_seconds:g} s each of GetItem, BatchGetItem and NATS echo")
        baseline = asyncio.run(
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
        baseline=baseline,
    )
    for line in render(document, result):
        say(line)
    if request.json_path is not None:
        write_json(request.json_path, document.document())
        say(f"JSON result: {request.json_path}")
    return document


def choose_target(
    config: StackConfig, *, context: str, server: str, creds: str, environ: Mapping[str, str]
) -> Target:
    """A NATS CLI context, a URL with creds, or (by default) the local stack as the client user."""
    if context:
        found = read_context(config_dir(environ), context)
        return Target(found.url, found.creds)
    if server:
        return Target(server, Path(creds) if creds else None)
    if not config.client_creds.exists():
        raise StackError("the local stack is not running: invoke up (or give --context)")
    return Target(config.nats_url, config.client_creds)


def local_cpu(config: StackConfig) -> dict[str, CpuProbe]:
    """The local stack's components: processes (native) or containers' cgroups (docker)."""
    state = StackState.load(config.state_path)
    project = compose.project_of(state)
    if project is not None:
        pids = project.container_pids()
        return {name: CpuProbe(pid, container_cpu_seconds) for name, pid in pids.items()}
    return {
        name: CpuProbe(component.pid, process_cpu_seconds)
        for name, component in state.components.items()
        if component.running()
    }


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
    local = not context and not server
    target = choose_target(config, context=context, server=server, creds=creds, environ=environ)
    if baseline and not config.service_creds.exists():
        raise StackError("--baseline measures the local stack's DynamoDB and NATS: invoke up")
    counts = [int(n) for n in replicas.split(",") if n.strip()] if replicas else [0]
    if any(counts) and not local:
        raise StackError("--replicas restarts the local stack; it cannot go with a remote target")
    rows = []
    for count in counts:
        if count:
            up(config, replicas=count)
            print(f"== {count} replica(s) ==")
        document = benchmark(
            BenchRequest(
                target=target,
                plan=plan,
                baseline_settings=config.service_settings() if baseline else None,
                baseline_target=Target(config.nats_url, config.service_creds) if baseline else None,
                local_cpu=local_cpu(config) if local else {},
                json_path=Path(json_path) if json_path and len(counts) == 1 else None,
            )
        )
        rows.append((count, document))
    if len(counts) > 1:
        print("\n".join(replica_table(rows)))
        if json_path:
            write_json(Path(json_path), {"by_replicas": {str(n): d.document() for n, d in rows}})
