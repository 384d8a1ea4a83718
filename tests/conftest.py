from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack",
        choices=("auto", "native", "docker"),
        default="auto",
        help="where integration tests get NATS and DynamoDB: native processes, containers"
        " (testcontainers), or auto (containers when a Docker engine answers)",
    )
