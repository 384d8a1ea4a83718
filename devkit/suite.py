"""What `invoke check` and `invoke test` run, decided in plain functions: the checks, every test
against native processes, then the integration tests against containers when an engine can."""

from __future__ import annotations

import sys
from pathlib import Path

from devkit.auth.natscli import NATS_CLI
from devkit.chaos.toxiproxy import TOXIPROXY
from devkit.gotools import VEGETA, ensure_tool
from service.operator_errors import OperatorError

PATHS = "service devkit tests tasks.py"


class SuiteError(OperatorError):
    """A pass the run must include cannot run here (CI without a Docker engine)."""


def check_commands(python: str = sys.executable) -> list[str]:
    """Lint, format, strict types, the largest modules (a report), the image's dependencies
    (derived from pyproject), and the import contracts (the layering)."""
    return [
        f"{python} -m ruff check {PATHS}",
        f"{python} -m ruff format --check {PATHS}",
        f"{python} -m mypy",
        f"{python} -m devkit.module_sizes",
        f"{python} -m devkit.image_imports",
        str(Path(python).parent / "lint-imports"),
    ]


WORKERS = 1
"""Parallel pytest workers for the tests that measure nothing; 1 (one run per pass, as CI has
always run it) until a clean run with more shows the gain: `-w 3` is measured but not yet proven
on a quiet machine (docs/testing.md, "Suite wall time")."""

MAX_WORKERS = 16
"""More workers than that only queue on the cores and the servers' start-ups."""

MEASURING = "serial or chaos"
"""The tests that run alone, after the parallel workers: they measure time, rates or resources
(chaos, benches, deadlines, drains), and a neighbour's load would bend what they measure."""


def pass_commands(pytest: str, target: str, exclude: str, only: str, workers: int) -> list[str]:
    """One pass as two pytest runs: the parallel part on `workers` workers (a module stays on one
    worker, so its module-scoped servers start once), then the measuring tests alone. With one
    worker, a single run as before. `--allow-empty` lets `-k` select nothing in one part."""
    base = f"{pytest} {target} -m"
    if workers <= 1:
        return [f"{base} {exclude!r}{only}"]
    return [
        f"{base} '{exclude} and not ({MEASURING})' -n {workers} --dist loadfile --allow-empty{only}",
        f"{base} '{exclude} and ({MEASURING})' --allow-empty{only}",
    ]


def suite_commands(
    folder: str,
    *,
    selection: str,
    docker_problem: str | None,
    ci: bool,
    python: str = sys.executable,
    containers: bool = True,
    workers: int = WORKERS,
    cluster: bool = False,
) -> tuple[list[str], str | None]:
    """The pytest runs for `folder`, and a note when the container pass is skipped.

    With `cluster`, a third pass after the native one: the integration tests again, every stack
    a three-node JetStream cluster (`--nats-nodes 3`). In CI a missing engine is an error, not a
    skip: the container pass is part of the promise.
    """
    pytest = f"{python} -m pytest"
    only = f" -k {selection!r}" if selection else ""
    commands = pass_commands(pytest, f"{folder} --stack=native", "not docker", only, workers)
    if cluster:
        on_cluster = "tests/integration --stack=native --nats-nodes 3"
        commands += pass_commands(pytest, on_cluster, "not docker", only, workers)
    if not containers:
        return commands, None
    if docker_problem is None:
        return [*commands, f"{pytest} tests/integration --stack=docker{only}"], None
    if ci:
        raise SuiteError(
            f"CI runs the integration tests against containers too, and {docker_problem};"
            " provision an engine first (../shared/tools/docker-engine up)"
        )
    return commands, f"Skipped the integration tests against containers: {docker_problem}."


def tool_notes() -> list[str]:
    """Build the pinned tools the tests drive (the NATS CLI, Toxiproxy, vegeta: the soak's load
    would otherwise start only after vegeta's build, inside its warm-up). One that cannot be built
    (no Go, no Go module proxy) stops the run before any test: a GoToolError, one line, exit 2,
    instead of minutes of tests that then fail for want of it."""
    return [
        f"{tool.name} {tool.version}: {ensure_tool(tool)}" for tool in (NATS_CLI, TOXIPROXY, VEGETA)
    ]
