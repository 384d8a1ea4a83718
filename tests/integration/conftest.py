"""Real servers for the integration tests: a NATS server per test, one DynamoDB per session.

They come from a provider (native processes or containers, `--stack`); each test gets its own
table name, so tests that share the emulator never see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from service import names
from service.compose import engine_available
from service.natscli import installed_cli
from tests.integration.providers import NatsServer, Provider, choose, dynamodb_client

ROOT = Path(__file__).resolve().parents[2]
OWN_VARIABLES = ("NATS_", "AWS_", "DDB_", "STACK_", "CLOUD_")
"""Variables of the project's own that a test must not inherit from the developer's shell."""


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}


def stand_in_path(bin_dir: Path, name: str, script: str) -> str:
    """Put an executable `name` running `script` first on PATH; return the new PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / name
    program.write_text(script)
    program.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def invoke(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real `invoke` command, as a person types it."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="session")
def provider(request: pytest.FixtureRequest) -> Provider:
    requested = request.config.getoption("--stack")
    chosen = choose(requested, engine_available)
    if chosen.name == "docker" and not engine_available():
        pytest.exit("--stack=docker needs a Docker engine, and `docker info` got no answer", 2)
    return chosen


@dataclass
class Dynamo:
    endpoint: str

    def client(self) -> Any:
        return dynamodb_client(self.endpoint)

    def create_table(self, table: str) -> None:
        client = self.client()
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.1})

    def count(self, table: str) -> int:
        paginator = self.client().get_paginator("scan")
        return sum(page["Count"] for page in paginator.paginate(TableName=table, Select="COUNT"))


@pytest.fixture(scope="session")
def dynamo(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dynamo]:
    running = provider.start_dynamodb(tmp_path_factory.mktemp("dynamodb"))
    yield Dynamo(endpoint=running.endpoint)
    running.stop()


@pytest.fixture
def nats_server(provider: Provider, tmp_path: Path) -> Iterator[NatsServer]:
    server = provider.start_nats(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


@pytest.fixture
def table(dynamo: Dynamo) -> str:
    name = f"balances-{uuid.uuid4().hex[:12]}"
    dynamo.create_table(name)
    return name


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    health_file: Path
    env: dict[str, str] = field(repr=False)

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def events_named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.log_events() if e.get("event") == event]

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.health_file.exists():
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"service exited with {self.process.returncode}:\n{self.log_path.read_text()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"service not ready in {timeout_s} s:\n{self.log_path.read_text()}")

    def terminate(self, timeout_s: float = 30.0) -> int:
        self.process.terminate()
        return self.process.wait(timeout=timeout_s)


ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture
def service_env(nats_server: NatsServer, dynamo: Dynamo, table: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_server.url,
        "DDB_TABLE": table,
        "AWS_ENDPOINT_URL": dynamo.endpoint,
        "AWS_REGION": names.DEFAULT_REGION,
        "LOG_LEVEL": "INFO",
        "HEALTH_INTERVAL_S": "0.5",
    }


def launch_service(workdir: Path, name: str, env: dict[str, str]) -> ServiceProcess:
    """`python -m service` as a real process, with only the variables the test gives it."""
    health_file = workdir / f"{name}.health"
    log_path = workdir / f"{name}.log"
    full_env = {
        **clean_environment(),
        "HEALTH_FILE": str(health_file),
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service"],
            cwd=ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(process, log_path, health_file, full_env)


def kill_all(services: list[ServiceProcess]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


@pytest.fixture
def start_service(tmp_path: Path, service_env: dict[str, str]) -> Iterator[ServiceFactory]:
    """Start service replicas against the test's servers; kills leftovers afterwards."""
    started: list[ServiceProcess] = []

    def start(wait: bool = True, **overrides: str) -> ServiceProcess:
        service = launch_service(
            tmp_path, f"replica-{len(started) + 1}", {**service_env, **overrides}
        )
        started.append(service)
        if wait:
            service.wait_ready()
        return service

    yield start
    kill_all(started)


@dataclass
class RunningService:
    """One nats-server, one table and one replica shared by a module's read-only tests."""

    nats: NatsServer
    table: str
    service: ServiceProcess


@pytest.fixture(scope="module")
def running_service(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory, dynamo: Dynamo
) -> Iterator[RunningService]:
    workdir = tmp_path_factory.mktemp("svc")
    server = provider.start_nats(workdir / "nats")
    table = f"balances-{uuid.uuid4().hex[:12]}"
    dynamo.create_table(table)
    service = launch_service(
        workdir,
        "replica",
        {
            "NATS_URL": server.url,
            "DDB_TABLE": table,
            "AWS_ENDPOINT_URL": dynamo.endpoint,
            "AWS_REGION": names.DEFAULT_REGION,
        },
    )
    try:
        service.wait_ready()
        yield RunningService(server, table, service)
    finally:
        kill_all([service])
        server.stop()


def request_payload(client_id: object) -> bytes:
    return json.dumps({"client_id": client_id}).encode()


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


@pytest.fixture
def nats_cli_path() -> str:
    """The NATS CLI installed by `invoke test`; missing fails in CI, skips elsewhere."""
    path = installed_cli()
    if path is None:
        message = "the NATS CLI is missing: `invoke test` installs it with Go"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return str(path)
