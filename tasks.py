"""Invoke tasks: a thin shell over the platform package (`devkit`). `invoke --list` shows them all."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, ClassVar

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from devkit.auth import contexts
from devkit.caller import call_once
from devkit.stack import lifecycle
from devkit.stack.compose import docker_problem
from devkit.stack.config import load_stack_config
from devkit.stack.logs import show_logs
from devkit.stack.report import render_status
from devkit.suite import check_commands, nats_cli_note, suite_commands
from service import names
from service.faults import OperatorError


class FriendlyTask(Task[Any]):
    """Every task: an OperatorError (or an OSError) is one `error:` line and an exit code."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except OperatorError as error:
            raise Exit(f"error: {error}", code=error.exit_code) from None
        except OSError as error:  # a file or process of the machine's, not a fault of ours
            raise Exit(f"error: {error}", code=1) from None


@task(
    klass=FriendlyTask,
    help={
        "replicas": "number of service replicas to run (default 1)",
        "mode": "auto (docker when an engine and its compose plugin answer, else native),"
        " native or docker; default STACK_MODE or auto",
        "wait": "wait until a real balance request is answered (default on)",
    },
)
def up(c: Context, replicas: int = 1, mode: str = "", wait: bool = True) -> None:
    """Start nats-server, a DynamoDB emulator and the service; wait for a real answer."""
    result = lifecycle.up(load_stack_config(), replicas=replicas, mode=mode or None, wait=wait)
    print(f"Mode: {result.status.mode} ({result.mode_reason})")
    if result.already_running:
        print("The local stack is already running; nothing changed.")
    else:
        print(f"Started: {', '.join(result.started)}")
    print(render_status(result.status))
    print(
        "\nTry it:  invoke req 678\n"
        "Or with the NATS CLI:  invoke context --select local-client && "
        f'nats req {names.REQUEST_SUBJECT} \'{{"client_id":"678"}}\''
    )


@task(
    klass=FriendlyTask, help={"wipe": "also delete the local data (JetStream store, logs, state)"}
)
def down(c: Context, wipe: bool = False) -> None:
    """Stop exactly the processes `invoke up` started; keep data unless --wipe."""
    config = load_stack_config()
    result = lifecycle.down(config, wipe=wipe)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Stopped: {', '.join(result.stopped)}" if result.stopped else "Nothing was running.")
    if wipe:
        print(f"Deleted {config.root}/")


@task(klass=FriendlyTask, help={"json": "print machine-readable JSON"})
def status(c: Context, json_: bool = False) -> None:
    """Show each component of the local stack with pid, address and health."""
    report = lifecycle.status(load_stack_config())
    print(json.dumps(report.document(), indent=2) if json_ else render_status(report))


@task(
    klass=FriendlyTask,
    help={"component": "nats, dynamodb or balance-N (default: all)", "lines": "lines per log"},
)
def logs(c: Context, component: str | None = None, lines: int = 40) -> None:
    """Show the last lines of the local stack's logs."""
    for path, text in show_logs(load_stack_config(), component, lines):
        print(f"==> {path} <==\n{text}\n")


@task(
    klass=FriendlyTask,
    help={"client_id": "the customer id, e.g. 678", "timeout": "seconds to wait for a reply"},
)
def req(c: Context, client_id: str, timeout: float = 5.0) -> None:
    """Ask the running service for a balance; prints the raw reply, exits 1 on an error reply."""
    config = load_stack_config()
    reply = asyncio.run(
        call_once(config.nats_url, client_id, creds=config.client_creds, timeout_s=timeout)
    )
    if not reply.ok:
        raise Exit(reply.describe(), code=1)
    print(reply.describe())


@task(
    klass=FriendlyTask,
    help={"rows": "how many customers to write", "force": "seed again even if already seeded"},
)
def seed(c: Context, rows: int = 1000, force: bool = False) -> None:
    """Seed the local table (once, as the service does; --force to write fresh balances)."""
    from devkit.stack.seed import run_seed

    # Two connect attempts, not the replicas' ten: a person is waiting.
    settings = load_stack_config().service_settings().model_copy(update={"connect_attempts": 2})
    outcome = asyncio.run(run_seed(settings, rows=rows, force=force))
    print(
        f"Seeded {outcome.rows} rows."
        if outcome.seeded
        else f"Already seeded ({outcome.rows} rows by {outcome.by}); use --force to seed again."
    )


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
    """Write NATS CLI contexts local-service/local-client (and cloud-* when given creds)."""
    directory = contexts.config_dir(os.environ)
    if remove:
        removed = contexts.remove_ours(directory)
        print(f"Removed: {', '.join(removed)}" if removed else "No contexts of ours to remove.")
        return
    config = load_stack_config()
    if not config.client_creds.exists():
        raise contexts.ContextError("no local creds yet: run `invoke up` first")
    wanted = contexts.local_contexts(config.nats_url, config.service_creds, config.client_creds)
    wanted += contexts.cloud_contexts(
        contexts.path_option(cloud_service_creds, os.environ, "CLOUD_SERVICE_CREDS"),
        contexts.path_option(cloud_client_creds, os.environ, "CLOUD_CLIENT_CREDS"),
    )
    for path in contexts.write_contexts(directory, wanted):
        print(f"Wrote {path}")
    if select:
        contexts.select(directory, select)
        print(f'Selected {select}: try  nats req {names.REQUEST_SUBJECT} \'{{"client_id":"678"}}\'')


@task(
    klass=FriendlyTask,
    help={
        "env": "Copilot environment (default dev)",
        "creds": "the Synadia Cloud service user's .creds file (or CLOUD_SERVICE_CREDS)",
        "dry_run": "print every step and AWS call without doing it",
        "init": "first deploy in this account: create the Copilot app, environment and service",
    },
)
def deploy(
    c: Context, env: str = "dev", creds: str = "", dry_run: bool = False, init: bool = False
) -> None:
    """Deploy the service to AWS Fargate with Copilot, against Synadia Cloud."""
    from devkit.cloud.deploy import DeployError
    from devkit.cloud.deploy import deploy as run_deploy

    path = contexts.path_option(creds, os.environ, "CLOUD_SERVICE_CREDS")
    if path is None:
        raise DeployError("give --creds PATH (the service user's .creds) or CLOUD_SERVICE_CREDS")
    run_deploy(environment=env, creds=path, dry_run=dry_run, init=init)


@task(
    klass=FriendlyTask,
    help={"env": "Copilot environment (default dev)", "dry_run": "print without doing it"},
)
def destroy(c: Context, env: str = "dev", dry_run: bool = False) -> None:
    """Remove the service from AWS; its balances table is kept."""
    from devkit.cloud.deploy import destroy as run_destroy

    run_destroy(environment=env, dry_run=dry_run)


class BenchTask(FriendlyTask):
    """Invoke picks short flags by first letter; the benchmark keeps the original's -n and -c."""

    SHORT: ClassVar[dict[str, str]] = {"requests": "n", "concurrency": "c"}

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, object]:
        opts: dict[str, object] = super().arg_opts(
            name, default, taken_names | set(self.SHORT.values())
        )
        if name in self.SHORT:
            opts["names"] = [name, self.SHORT[name]]
        return opts


@task(
    klass=BenchTask,
    help={
        "requests": "requests to send (default 1000)",
        "concurrency": "most requests in flight (default 1000)",
        "timeout": "seconds each request may take (default 5)",
        "ids": "customer ids to cycle through: 1..1000, a,b,c or a mix (default 1..1000)",
        "clients": "load-generator processes, each with its own connection (default 1)",
        "rate": "open loop: requests per second, latency from the scheduled send time",
        "warmup": "requests sent and not counted before the run",
        "context": "aim at a NATS CLI context (e.g. cloud-client) instead of the local stack",
        "creds": "with --server: a .creds file",
        "server": "with --creds: a NATS URL",
        "json": "also write the result as JSON to this path",
        "baseline": "also measure raw GetItem, BatchGetItem and NATS echo capacity (local stack)",
        "replicas": "comma-separated replica counts (e.g. 1,3): restart the local stack for each",
    },
)
def bench(
    c: Context,
    requests: int = 1000,
    concurrency: int = 1000,
    timeout: float = 5.0,
    ids: str = "1..1000",
    clients: int = 1,
    rate: float = 0.0,
    warmup: int = 0,
    context: str = "",
    creds: str = "",
    server: str = "",
    json_: str = "",
    baseline: bool = False,
    replicas: str = "",
) -> None:
    """Benchmark the service: throughput, latency percentiles, errors, CPU, and a baseline."""
    from devkit.bench.plan import LoadPlan, parse_ids
    from devkit.bench.run import run_for_stack

    config = load_stack_config()
    plan = LoadPlan(requests, concurrency, timeout, parse_ids(ids), clients, rate or None, warmup)
    run_for_stack(
        config,
        plan,
        context=context,
        server=server,
        creds=creds,
        json_path=json_,
        baseline=baseline,
        replicas=replicas,
        environ=os.environ,
    )


def _run_tests(c: Context, folder: str, k: str) -> None:
    print(nats_cli_note())
    commands, note = suite_commands(
        folder, selection=k, docker_problem=docker_problem(), ci=bool(os.environ.get("CI"))
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


@task
def check(c: Context) -> None:
    """Lint, format check, strict type check, and the import contracts (the layering)."""
    for command in check_commands():
        c.run(command)
