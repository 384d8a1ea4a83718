from __future__ import annotations

import os

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


def pytest_configure(config: pytest.Config) -> None:
    """One switch for every stack a test starts (tests/support/commands.stack_environment)."""
    commands.NATS_NODES = int(config.getoption("--nats-nodes"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `native_pass` does not depend on where the servers run: it runs once."""
    marker = item.get_closest_marker("native_pass")
    if marker is not None and item.config.getoption("--stack") == "docker":
        pytest.skip(marker.args[0] if marker.args else "proven in the native pass")
