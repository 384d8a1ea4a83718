"""The local stack's tasks: `invoke up`, `down`, `status`, `logs` and `seed`.

Each task imports the stack's modules when it runs: `invoke --list`, and every other task, does
not pay for them (issue #27, a cold `invoke up`).
"""

from __future__ import annotations

import json
import sys

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from devkit import flags, platform_names
from devkit.cli.friendly_task import FriendlyTask
from devkit.flags import FlagError

NOT_RUNNING = 3
"""`invoke status` of a stack that is not running (as LSB init scripts say it); 1 is degraded."""


@task(
    klass=FriendlyTask,
    help={
        "replicas": "service replicas to run (default: as many as run now, 1 for a new stack)",
        "mode": "auto (docker when an engine and its compose plugin answer, else native),"
        " native or docker; default STACK_MODE or auto",
        "wait": "wait until a real balance request is answered (default on)",
        "nodes": "nats-servers: 1, or 3 forming one JetStream cluster with R3 storage"
        " (default STACK_NATS_NODES, else the running stack's count, else 1; another count"
        " than the running stack's is refused until `invoke down`)",
    },
)
def up(c: Context, replicas: str = "", mode: str = "", wait: bool = True, nodes: str = "") -> None:
    """Start nats-server, a DynamoDB emulator and the service; wait for a real answer."""
    from devkit.stack import lifecycle
    from devkit.stack.config import load_stack_config
    from devkit.stack.report import render_up

    count = flags.whole_number("--replicas", replicas, minimum=1) if replicas else None
    config = load_stack_config()
    if nodes:
        config = config.model_copy(update={"nats_nodes": nats_node_count(nodes)})
    result = lifecycle.up(config, replicas=count, mode=mode or None, wait=wait)
    print(render_up(result.status, result.started, result.stopped, result.mode_reason))


def nats_node_count(text: str) -> int:
    """`--nodes`: one of the counts STACK_NATS_NODES allows."""
    allowed = platform_names.NATS_NODE_COUNTS
    try:
        count = int(text.strip())
    except ValueError:
        count = -1
    if count not in allowed:
        raise FlagError(f"--nodes must be {' or '.join(map(str, allowed))}, not {text!r}")
    return count


@task(
    klass=FriendlyTask, help={"wipe": "also delete the local data (JetStream store, logs, state)"}
)
def down(c: Context, wipe: bool = False) -> None:
    """Stop exactly what `invoke up` started; keep data unless --wipe."""
    from devkit.stack import lifecycle
    from devkit.stack.running import current_config

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
    from devkit.stack import lifecycle
    from devkit.stack.report import render_status
    from devkit.stack.running import current_config

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
    from devkit.stack.logs import show_logs
    from devkit.stack.running import current_config

    count = flags.whole_number("--lines", lines, minimum=1)
    show_logs(current_config(), component, count, follow=follow)


@task(
    klass=FriendlyTask,
    help={"rows": "customers to write (default 1000)", "force": "seed again even if seeded"},
)
def seed(c: Context, rows: str = "1000", force: bool = False) -> None:
    """Seed the local table (once, as the service does; --force to write fresh balances)."""
    from devkit.stack.running import running_config
    from devkit.stack.seed import describe_outcome, seed_with_progress

    count = flags.whole_number("--rows", rows, minimum=1)
    # Two connect attempts, not the replicas' ten: a person is waiting.
    settings = running_config().service_settings().model_copy(update={"connect_attempts": 2})
    outcome = seed_with_progress(settings, rows=count, force=force, interactive=sys.stdout.isatty())
    print(describe_outcome(outcome, count))


TASKS = (up, down, status, logs, seed)
