"""The checks and the tests: `invoke check`, `test`, `test-integration` and `test-chaos`, run as
devkit.suite decides."""

from __future__ import annotations

import os

from invoke.context import Context
from invoke.tasks import task

from devkit import flags
from devkit.cli.friendly_task import FriendlyTask
from devkit.stack.compose import docker_problem
from devkit.suite import MAX_WORKERS, WORKERS, check_commands, suite_commands, tool_notes


def _run_tests(
    c: Context,
    folder: str,
    k: str,
    containers: bool = True,
    workers: int = WORKERS,
    cluster: bool = False,
) -> None:
    for line in tool_notes():
        print(line)
    commands, note = suite_commands(
        folder,
        selection=k,
        docker_problem=docker_problem(),
        ci=bool(os.environ.get("CI")),
        containers=containers,
        workers=workers,
        cluster=cluster,
    )
    print(f"pytest runs: {len(commands)}")  # .ci/run expects a summary line from each
    for command in commands:
        c.run(command, pty=False)
    if note:
        print(note)


@task(
    klass=FriendlyTask,
    help={
        "lint": "also run the checks first (default on)",
        "k": "only tests matching",
        "workers": f"parallel workers for the tests that measure nothing (default {WORKERS};"
        " 1: one run per pass, as before)",
        "cluster": "also a pass of the integration tests on a three-node cluster (--nats-nodes 3)",
    },
)
def test(
    c: Context, lint: bool = True, k: str = "", workers: str = str(WORKERS), cluster: bool = False
) -> None:
    """Every test: checks, then unit and integration tests natively, then against containers."""
    count = flags.whole_number("--workers", workers, minimum=1, maximum=MAX_WORKERS)
    if lint:
        check(c)
    _run_tests(c, "tests", k, workers=count, cluster=cluster)


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


TASKS = (check, test, test_integration, test_chaos)
