from __future__ import annotations

import ast
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import commands

settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True)
"""CI (`CI` set): a thousand examples per property; HYPOTHESIS_PROFILE chooses another."""
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack",
        choices=("auto", "native", "docker"),
        default="auto",
        help="where integration tests get NATS and DynamoDB: native processes, containers"
        " (testcontainers), or auto (containers when a Docker engine answers)",
    )
    parser.addoption(
        "--nats-nodes",
        choices=("1", "3"),
        default="1",
        help="nats-servers of every stack the tests start with `invoke up` (STACK_NATS_NODES):"
        " one, or a three-node JetStream cluster with R3 storage",
    )
    parser.addoption(
        "--allow-empty",
        action="store_true",
        help="no test selected is a pass, not exit 5: for one part of a pass split in two runs"
        " (devkit/suite.py), where `-k` may select tests of the other part only",
    )
    parser.addoption(
        "--count-assertions",
        action="store_true",
        help="also count the passing asserts each test executes (slow: pytest then formats"
        " every passing comparison); the assert statements of the modules that ran are always"
        " counted",
    )


def pytest_configure(config: pytest.Config) -> None:
    """One switch for every stack a test starts (tests/support/commands.stack_environment)."""
    commands.NATS_NODES = int(config.getoption("--nats-nodes"))
    if config.getoption("--count-assertions"):
        config.pluginmanager.register(ExecutedAssertions(), "executed-assertions")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `native_pass` does not depend on where the servers run: it runs once."""
    marker = item.get_closest_marker("native_pass")
    if marker is not None and item.config.getoption("--stack") == "docker":
        pytest.skip(marker.args[0] if marker.args else "proven in the native pass")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and session.config.getoption(
        "--allow-empty"
    ):
        session.exitstatus = pytest.ExitCode.OK


ASSERTIONS: pytest.StashKey[int] = pytest.StashKey()
"""Passing `assert` statements a test executed (pytest_assertion_pass, in rewritten modules)."""


@dataclass
class AssertionTally:
    """What a run proved, counted the same way in one process or across xdist workers: each test's
    executed passing asserts travel on its teardown report, and the `assert` statements of every
    test module that ran are counted in its source (AST)."""

    executed: int = 0
    modules: set[str] = field(default_factory=set)

    def statements(self, root: Path) -> int:
        return sum(_assert_statements(root / module) for module in self.modules)


def _assert_statements(path: Path) -> int:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sum(isinstance(node, ast.Assert) for node in ast.walk(tree))


TALLY = AssertionTally()


class ExecutedAssertions:
    """Registered by --count-assertions only: with a pytest_assertion_pass implementation present,
    the rewritten asserts format their explanation even when they pass."""

    def pytest_assertion_pass(self, item: pytest.Item) -> None:
        item.stash[ASSERTIONS] = item.stash.get(ASSERTIONS, 0) + 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "teardown" and ASSERTIONS in item.stash:
        report.user_properties.append(("assertions", item.stash[ASSERTIONS]))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    TALLY.modules.add(report.nodeid.split("::", 1)[0])
    for name, value in report.user_properties:
        if name == "assertions" and isinstance(value, int):
            TALLY.executed += value


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """One line, so a change to the suite's wall time can show it did not drop an assertion."""
    if not TALLY.modules:
        return
    executed = (
        f"{TALLY.executed} executed and passed; " if config.getoption("--count-assertions") else ""
    )
    terminalreporter.write_line(
        f"assertions: {executed}{TALLY.statements(config.rootpath)} assert statements"
        f" in the {len(TALLY.modules)} test modules that ran"
    )
