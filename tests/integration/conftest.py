"""Real servers for the integration tests: a NATS server per test, one DynamoDB per session.

They come from a provider (native processes or containers, `--stack`); each test gets its own
table name, so tests that share the emulator never see each other's data.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.aio.client import Client

from devkit.auth.natscli import installed_cli
from devkit.auth.security import SecurityMaterial, ensure_security
from devkit.stack.compose import engine_available
from service import names
from tests.support.commands import invoke, stack_environment
from tests.support.gateway import HttpStack, http_stack
from tests.support.go_clients import build_conformance_client, build_original_control_plane
from tests.support.replicas import (
    RunningService,
    ServiceFactory,
    ServiceProcess,
    kill_all,
    launch_service,
)
from tests.support.servers import Dynamo, NatsServer, Provider, choose


@pytest.fixture(scope="session")
def provider(request: pytest.FixtureRequest) -> Provider:
    requested = request.config.getoption("--stack")
    chosen = choose(requested, engine_available)
    if chosen.name == "docker" and not engine_available():
        pytest.exit("--stack=docker needs a Docker engine, and `docker info` got no answer", 2)
    return chosen


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


@dataclass
class SecureNats:
    url: str
    material: SecurityMaterial
    root: Path


@pytest.fixture
def secure_nats(provider: Provider, tmp_path: Path) -> Iterator[SecureNats]:
    material = ensure_security(tmp_path)
    server = provider.start_nats(tmp_path / "nats", security=material)
    yield SecureNats(server.url, material, tmp_path)
    server.stop()


@pytest.fixture
def secure_service(
    secure_nats: SecureNats, dynamo: Dynamo, table: str, tmp_path: Path
) -> Iterator[ServiceProcess]:
    creds = base64.b64encode(secure_nats.material.service_creds.read_bytes()).decode()
    service = launch_service(
        tmp_path,
        "secure",
        {
            "NATS_URL": secure_nats.url,
            "NATS_CREDENTIALS": creds,
            "DDB_TABLE": table,
            "AWS_ENDPOINT_URL": dynamo.endpoint,
            "AWS_REGION": names.DEFAULT_REGION,
        },
    )
    try:
        service.wait_ready()
        yield service
    finally:
        kill_all([service])


@pytest.fixture
def stack_env(tmp_path: Path, provider: Provider) -> Iterator[dict[str, str]]:
    """A stack of its own (directory and ports), in the mode `--stack` chose; always removed."""
    env = stack_environment(tmp_path / "stack", provider.name)
    yield env
    invoke(env, "down", "--wipe")


@pytest.fixture(scope="module")
def gateway(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    """A stack with its HTTP gateway, shared by a module's gateway tests."""
    with http_stack(provider.name, tmp_path_factory.mktemp("http") / "stack") as stack:
        yield stack


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # a reply that never comes fails the test in seconds, not at the 300 s test timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=30)) as session:
        yield session


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


@pytest.fixture(scope="session")
def original_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The original's control-plane program, built from ../shared once per session."""
    return build_original_control_plane(tmp_path_factory.mktemp("original-clients"))


@pytest.fixture(scope="session")
def conformance_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our Go client on the official SDK (tests/conformance), built once per session."""
    return build_conformance_client(tmp_path_factory.mktemp("conformance"))
