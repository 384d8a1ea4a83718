"""Invoke tasks: a thin shell over the platform package (`devkit`). `invoke --list` shows them all.

Numbers are taken as text and checked by `devkit.flags` (Invoke's own conversion ends in a
traceback), so every bad value is one line that names its flag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from devkit import flags
from devkit.auth import contexts
from devkit.auth.natscli import ensure_nats_cli
from devkit.bench.options import BENCH_HELP, BenchOptions
from devkit.caller import call_once
from devkit.cli import BenchTask, FriendlyTask, cloud, reader_target
from devkit.events import EventQuery, check_client_id, read_events
from devkit.stack import lifecycle
from devkit.stack.compose import docker_problem
from devkit.stack.config import load_stack_config
from devkit.stack.logs import show_logs
from devkit.stack.report import render_status, render_up
from devkit.stack.running import current_config, gateway_token, running_config
from devkit.suite import check_commands, suite_commands, tool_notes

NOT_RUNNING = 3
"""`invoke status` of a stack that is not running (as LSB init scripts say it); 1 is degraded."""


@task(
    klass=FriendlyTask,
    help={
        "replicas": "service replicas to run (default: as many as run now, 1 for a new stack)",
        "mode": "auto (docker when an engine and its compose plugin answer, else native),"
        " native or docker; default STACK_MODE or auto",
        "wait": "wait until a real balance request is answered (default on)",
    },
)
def up(c: Context, replicas: str = "", mode: str = "", wait: bool = True) -> None:
    """Start nats-server, a DynamoDB emulator and the service; wait for a real answer."""
    count = flags.whole_number("--replicas", replicas, minimum=1) if replicas else None
    result = lifecycle.up(load_stack_config(), replicas=count, mode=mode or None, wait=wait)
    print(render_up(result.status, result.started, result.stopped, result.mode_reason))


@task(
    klass=FriendlyTask, help={"wipe": "also delete the local data (JetStream store, logs, state)"}
)
def down(c: Context, wipe: bool = False) -> None:
    """Stop exactly what `invoke up` started; keep data unless --wipe."""
    config = current_config()
    result = lifecycle.down(config, wipe=wipe)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Stopped: {', '.join(result.stopped)}" if result.stopped else "Nothing was running.")
    if wipe:
        print(f"Deleted {config.root}/")


@task(klass=FriendlyTask, help={"json": "print machine-readable JSON"})
def status(c: Context, json_: bool = False) -> None:
    """Show each component with pid, address and health; exit 1 when degraded, 3 when stopped."""
    report = lifecycle.status(current_config())
    print(json.dumps(report.document(), indent=2) if json_ else render_status(report))
    if not report.running:
        raise Exit(code=NOT_RUNNING)
    if problems := report.problems():
        raise Exit(f"error: the local stack is degraded: {'; '.join(problems)}", code=1)


@task(
    klass=FriendlyTask,
    help={
        "component": "nats, dynamodb, balance-N, or a prefix such as balance (default: all)",
        "lines": "lines per log (default 40)",
        "follow": "keep printing new lines until Ctrl-C",
    },
)
def logs(c: Context, component: str | None = None, lines: str = "40", follow: bool = False) -> None:
    """Show the last lines of the local stack's logs (--follow for new ones)."""
    count = flags.whole_number("--lines", lines, minimum=1)
    show_logs(current_config(), component, count, follow=follow)


@task(
    klass=FriendlyTask,
    help={"client_id": "the customer id, e.g. 678", "timeout": "seconds to wait (default 5)"},
)
def req(c: Context, client_id: str, timeout: str = "5") -> None:
    """Ask the running service for a balance; prints the raw reply, exits 1 on an error reply."""
    seconds = flags.positive_number("--timeout", timeout, unit="seconds")
    config = running_config()
    reply = asyncio.run(
        call_once(config.nats_url, client_id, creds=config.client_creds, timeout_s=seconds)
    )
    if not reply.ok:
        raise Exit(reply.describe(), code=1)
    print(reply.describe())


@task(
    klass=FriendlyTask,
    help={
        "last": "how many of the newest events to show first (default 10; 0 for none)",
        "follow": "then keep printing new events until Ctrl-C",
        "client_id": "only this customer's events",
        "context": "read through this NATS CLI context (e.g. cloud-reader); default the local"
        " stack's reader user",
    },
)
def events(
    c: Context, last: str = "10", follow: bool = False, client_id: str = "", context: str = ""
) -> None:
    """Print the recorded answers as JSON lines, read as the reader user (the data platform)."""
    query = EventQuery(
        last=flags.whole_number("--last", last, minimum=0),
        client_id=check_client_id(client_id),
        follow=follow,
    )
    url, creds = reader_target(context)
    with contextlib.suppress(KeyboardInterrupt):  # --follow ends with Ctrl-C
        asyncio.run(read_events(url, creds, query, lambda line: print(line, flush=True)))


@task(
    klass=FriendlyTask,
    help={"rows": "customers to write (default 1000)", "force": "seed again even if seeded"},
)
def seed(c: Context, rows: str = "1000", force: bool = False) -> None:
    """Seed the local table (once, as the service does; --force to write fresh balances)."""
    from devkit.stack.seed import describe_outcome, seed_with_progress

    count = flags.whole_number("--rows", rows, minimum=1)
    # Two connect attempts, not the replicas' ten: a person is waiting.
    settings = running_config().service_settings().model_copy(update={"connect_attempts": 2})
    outcome = seed_with_progress(settings, rows=count, force=force, interactive=sys.stdout.isatty())
    print(describe_outcome(outcome, count))


@task(
    klass=FriendlyTask,
    help={
        "select": "select this context afterwards (e.g. local-client)",
        "remove": "delete the contexts this task wrote, and nothing else",
        "cloud_service_creds": "Synadia Cloud service user's .creds (or CLOUD_SERVICE_CREDS)",
        "cloud_client_creds": "Synadia Cloud client user's .creds (or CLOUD_CLIENT_CREDS)",
    },
)
def context(
    c: Context,
    select: str = "",
    remove: bool = False,
    cloud_service_creds: str = "",
    cloud_client_creds: str = "",
) -> None:
    """Write NATS CLI contexts local-service/-client/-admin/-reader (and cloud-* given creds)."""
    directory = contexts.config_dir(os.environ)
    if remove:
        removed = contexts.remove_ours(directory)
        print(f"Removed: {', '.join(removed)}" if removed else "No contexts of ours to remove.")
        return
    config = current_config()
    if not config.client_creds.exists():
        raise contexts.ContextError("no local creds yet: run `invoke up` first")
    wanted = contexts.local_contexts(
        config.nats_url,
        config.service_creds,
        config.client_creds,
        config.admin_creds,
        config.reader_creds,
    )
    wanted += contexts.cloud_contexts(
        contexts.path_option(cloud_service_creds, os.environ, "CLOUD_SERVICE_CREDS"),
        contexts.path_option(cloud_client_creds, os.environ, "CLOUD_CLIENT_CREDS"),
    )
    contexts.check_selectable(directory, select, wanted)  # before anything is written
    for path in contexts.write_contexts(directory, wanted):
        print(f"Wrote {path}")
    if select:
        contexts.select(directory, select)
        print(f'Selected {select}: try  nats req customer.balance \'{{"client_id":"678"}}\'')


@task(klass=FriendlyTask, help={"user": "the NATS user the token stands for (default client)"})
def token(c: Context, user: str = "client") -> None:
    """Print the local HTTP gateway's token for a NATS user (use it as Authorization: <token>)."""
    print(gateway_token(current_config(), user))


@task(klass=FriendlyTask, name="nats-cli")
def nats_cli(c: Context) -> None:
    """Install the pinned NATS CLI (natscli v0.5.0) into this virtual environment (Go needed)."""
    print(f"NATS CLI: {ensure_nats_cli()}")
    print("Contexts for it come from `invoke context` (then: nats --context local-client ...).")


@task(klass=BenchTask, help=BENCH_HELP, optional=["rate"])  # a bare --rate gets our message
def bench(
    c: Context,
    requests: str = "",
    concurrency: str = "1000",
    timeout: str = "5",
    ids: str = "1..1000",
    clients: str = "1",
    rate: str | bool = "",
    warmup: str = "0",
    context: str = "",
    creds: str = "",
    server: str = "",
    json_: str = "",
    baseline: bool = False,
    replicas: str = "",
    max_failures: str = "0",
    http: bool = False,
    duration: str = "",
) -> None:
    """Benchmark the service: throughput, latency percentiles, errors, CPU, and a baseline."""
    from devkit.bench.run import run_for_stack

    options = BenchOptions.parse(
        requests=requests,
        concurrency=concurrency,
        timeout=timeout,
        ids=ids,
        clients=clients,
        rate=flags.given("--rate", rate, example="500"),
        warmup=warmup,
        context=context,
        creds=creds,
        server=server,
        json_=json_,
        baseline=baseline,
        replicas=replicas,
        max_failures=max_failures,
        http=http,
        duration=duration,
    )
    run_for_stack(current_config(), options, environ=os.environ)


def _run_tests(c: Context, folder: str, k: str, containers: bool = True) -> None:
    for line in tool_notes():
        print(line)
    commands, note = suite_commands(
        folder,
        selection=k,
        docker_problem=docker_problem(),
        ci=bool(os.environ.get("CI")),
        containers=containers,
    )
    for command in commands:
        c.run(command, pty=False)
    if note:
        print(note)


@task(
    klass=FriendlyTask,
    help={"lint": "also run the checks first (default on)", "k": "only tests matching"},
)
def test(c: Context, lint: bool = True, k: str = "") -> None:
    """Every test: checks, then unit and integration tests natively, then against containers."""
    if lint:
        check(c)
    _run_tests(c, "tests", k)


@task(klass=FriendlyTask, name="test-integration")
def test_integration(c: Context) -> None:
    """The integration tests only: native processes, then containers when an engine answers."""
    _run_tests(c, "tests/integration", "")


@task(klass=FriendlyTask, name="test-chaos", help={"k": "only cases matching"})
def test_chaos(c: Context, k: str = "") -> None:
    """Faults injected with Toxiproxy and kill -9 under open-loop load (part of invoke test)."""
    _run_tests(c, "tests/chaos", k, containers=False)


@task
def check(c: Context) -> None:
    """Lint, format check, strict type check, and the import contracts (the layering)."""
    for command in check_commands():
        c.run(command)


namespace = Collection.from_module(sys.modules[__name__])
for cloud_task in cloud.TASKS:
    namespace.add_task(cloud_task)
