"""The chaos rig: a secured nats-server and moto as plain processes, Toxiproxy between them and
one service replica, and the load's callers connected straight to nats-server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devkit.auth.security import SecurityMaterial, creds_path, ensure_security
from devkit.chaos.toxiproxy import TOXIPROXY, Proxy, Toxiproxy, toxiproxy_server
from devkit.stack.processes import Launched
from devkit.stack.servers import LaunchedNats, start_moto, start_nats
from service import names
from tests.support.commands import invoke, required_tool, stack_environment
from tests.support.replicas import ServiceProcess, kill_all, launch_service
from tests.support.servers import Dynamo

pytestmark = pytest.mark.chaos


@dataclass
class Rig:
    workdir: Path
    security: SecurityMaterial
    nats: LaunchedNats
    dynamo: Dynamo
    dynamo_process: Launched
    table: str
    toxiproxy: Toxiproxy
    to_dynamodb: Proxy
    to_nats: Proxy
    replica: ServiceProcess

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def creds(self, user: str) -> Path:
        return creds_path(self.workdir / "security", user)

    def restart_nats(self) -> None:
        """On the same ports and store, as a crashed server comes back."""
        self.nats = start_nats(
            workdir=self.workdir / "nats",
            port=self.nats.port,
            monitor_port=self.nats.monitor_port,
            security=self.security,
        )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    binary = Path(required_tool(TOXIPROXY.name))
    security = ensure_security(tmp_path / "security")
    nats = start_nats(workdir=tmp_path / "nats", security=security)  # on ports they choose
    dynamo_process = start_moto(workdir=tmp_path)
    dynamo = Dynamo(endpoint=dynamo_process.endpoint)
    table = f"balances-{uuid.uuid4().hex[:8]}"
    dynamo.create_table(table)
    launched: list[Launched] = [nats, dynamo_process]
    replica: ServiceProcess | None = None
    try:
        with toxiproxy_server(binary, tmp_path / "toxiproxy.log") as toxiproxy:
            to_dynamodb = toxiproxy.proxy("dynamodb", f"{names.LOCAL_HOST}:{dynamo_process.port}")
            to_nats = toxiproxy.proxy("nats", f"{names.LOCAL_HOST}:{nats.port}")
            replica = launch_service(
                tmp_path,
                "replica",
                {
                    "NATS_URL": f"nats://{to_nats.address}",
                    "NATS_CREDS_FILE": str(security.service_creds),
                    "DDB_TABLE": table,
                    "AWS_ENDPOINT_URL": f"http://{to_dynamodb.address}",
                    "AWS_REGION": names.DEFAULT_REGION,
                },
            )
            replica.wait_ready()
            rig = Rig(
                tmp_path,
                security,
                nats,
                dynamo,
                dynamo_process,
                table,
                toxiproxy,
                to_dynamodb,
                to_nats,
                replica,
            )
            yield rig
            launched.append(rig.nats)  # the restarted server, if a test restarted it
    finally:
        if replica is not None:
            kill_all([replica])
        for process in launched:
            if process.process.poll() is None:
                process.process.kill()
                process.process.wait(timeout=10)


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A native stack of its own (directory and ports); always removed."""
    env = stack_environment(tmp_path / "stack", "native")
    yield env
    invoke(env, "down", "--wipe")


def report(name: str, figures: dict[str, object]) -> None:
    """What a chaos case measured, in the test log (`-s`, or CI's output on failure)."""
    print(f"chaos {name}: {json.dumps(figures)}")
