"""The checks and the tests: `invoke check`, `test`, `test-integration` and `test-chaos`, run as
devkit.suite decides."""

from __future__ import annotations

import os

from invoke.context import Context
from invoke.tasks import task

from devkit.cli.friendly_task import FriendlyTask
from devkit.stack.compose import docker_problem
from devkit.suite import check_commands, suite_commands, tool_notes


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


TASKS = (check, test, test_integration, test_chaos)
