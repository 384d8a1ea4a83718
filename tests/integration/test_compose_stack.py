"""The Compose stack on a real Docker engine, driven as a person drives it: up, requests, the
image's contents, a replica stopped under load, a benchmark, and `down --wipe` leaving nothing.

Runs with `pytest --stack=docker` (the second pass of `invoke test` when an engine answers); with
`--nats-nodes 3` the same test runs on the three-node cluster in Compose, and checks its R3
stream and bucket too.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.caller import connect_client
from devkit.stack.images import service_image
from service import names
from service.protocol import decode_reply, encode_request
from tests.support import commands
from tests.support.commands import (
    clean_environment,
    invoke,
    nats_components,
    stack_ports,
    taken_port,
)
from tests.support.servers import Provider

pytestmark = [pytest.mark.integration, pytest.mark.docker]

BURST = 20_000
CONCURRENCY = 200
CATCH_UP_S = 60.0
NODE_PORTS = ("STACK_NATS_PORT", "STACK_NATS_2_PORT", "STACK_NATS_3_PORT")
"""Each node's published client port, as the stack's state records it."""


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def compose_env(
    provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    if provider.name != "docker":
        pytest.skip("the Compose stack runs on a real Docker engine: pytest --stack=docker")
    env = {
        **clean_environment(),
        "STACK_MODE": "docker",
        "STACK_PROJECT": f"balance-test-{uuid.uuid4().hex[:8]}",
        "STACK_DIR": str(tmp_path_factory.mktemp("compose") / "stack"),
        "STACK_NATS_NODES": str(commands.NATS_NODES),
        **stack_ports((*commands.STACK_PORTS, *NODE_PORTS[1:])),
    }
    yield env
    invoke(env, "down", "--wipe")


def project_resources(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    found = {
        "containers": docker("ps", "--all", "--quiet", "--filter", label),
        "volumes": docker("volume", "ls", "--quiet", "--filter", label),
        "networks": docker("network", "ls", "--quiet", "--filter", label),
    }
    return {kind: result.stdout.split() for kind, result in found.items()}


def running_as_root(project: str) -> list[str]:
    """The project's running containers whose main process is root (the one-shot jobs, which
    hand volumes to unprivileged users, have exited)."""
    label = f"label=com.docker.compose.project={project}"
    running = docker("ps", "--quiet", "--filter", label, "--filter", "status=running")
    root = []
    for container in running.stdout.split():
        uid = docker("exec", container, "id", "-u")
        assert uid.returncode == 0, uid.stderr
        if uid.stdout.strip() == "0":
            root.append(docker("inspect", "--format", "{{.Name}}", container).stdout.strip())
    return root


async def burst_while_stopping(
    url: str, creds: Path, container: str, failures: dict[str, int]
) -> dict[str, int]:
    """BURST requests at CONCURRENCY; one replica gets `docker stop` a tenth of the way in.
    Each failure's kind is counted in `failures`, for the assertion's message."""
    nc = await connect_client(url, name="compose-burst", creds=creds)
    outcomes = {"ok": 0, "failed": 0}
    answered = asyncio.Event()
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with slots:
            try:
                msg = await nc.request(
                    names.REQUEST_SUBJECT, encode_request(str(i % 1000 + 1)), timeout=10
                )
                reply = decode_reply(msg.data, msg.headers)
                ok, why = reply.ok, reply.describe()[:80]
            except Exception as error:  # any failure a caller could see counts
                ok, why = False, type(error).__name__
        outcomes["ok" if ok else "failed"] += 1
        if not ok:
            failures[why] = failures.get(why, 0) + 1
        if outcomes["ok"] == BURST // 10:
            answered.set()

    burst = asyncio.gather(*(one(i) for i in range(BURST)))
    await answered.wait()
    stopped = await asyncio.to_thread(docker, "stop", container)
    await burst
    await nc.close()
    assert stopped.returncode == 0, stopped.stderr
    return outcomes


def check_the_cluster(env: dict[str, str], report: dict[str, Any]) -> None:
    """Three nodes on their own published ports, every client given the list; the stream and the
    bucket R3 with a leader and two current followers; each node's log by its component name."""
    nodes = [c for c in report["components"] if c["name"] in nats_components()]
    assert [n["address"] for n in nodes] == [
        f"nats://127.0.0.1:{taken_port(env, variable)}" for variable in NODE_PORTS
    ]
    assert len({n["address"] for n in nodes}) == 3
    assert report["nats_url"] == ",".join(n["address"] for n in nodes)
    names = set(nats_components())
    replication = {r["kind"]: r for r in report["replication"]}
    assert set(replication) == {"stream", "bucket"}
    for placed in replication.values():
        assert placed["replicas"] == 3
        assert placed["leader"] in names
        assert {f["name"] for f in placed["followers"]} == names - {placed["leader"]}
        assert all(f["current"] for f in placed["followers"]), placed
        assert placed["all_current"]

    table = invoke(env, "status")
    assert table.returncode == 0, table.stdout + table.stderr
    assert "stream customer-balances: R3, leader nats" in table.stdout
    logs = invoke(env, "logs", "-c", "nats-2", "--lines", "1000")
    assert logs.returncode == 0, logs.stderr
    assert "Name:     nats-2" in logs.stdout  # the node's own log: its server name


def a_stopped_node_is_started_by_up_and_catches_up(env: dict[str, str], project: str) -> None:
    """One node's container stopped: the others answer through the server list, `status` names
    it, `up` starts it again and its replicas become current."""
    stopped = docker("stop", f"{project}-nats-3-1")
    assert stopped.returncode == 0, stopped.stderr
    down = invoke(env, "status")
    assert down.returncode == 1
    assert "nats-3 stopped" in down.stderr
    answered = invoke(env, "req", "678")
    assert answered.returncode == 0, answered.stderr

    restarted = invoke(env, "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        report = json.loads(invoke(env, "status", "--json").stdout)
        placed = {r["leader"] for r in report["replication"]} | {
            f["name"] for r in report["replication"] for f in r["followers"] if f["current"]
        }
        healthy = all(c["healthy"] for c in report["components"])
        if healthy and "nats-3" in placed and all(r["all_current"] for r in report["replication"]):
            return
        time.sleep(0.5)
    pytest.fail(f"nats-3 did not catch up within {CATCH_UP_S:g} s: {report}")


def test_the_compose_stack_end_to_end(compose_env: dict[str, str]) -> None:
    env = compose_env
    project = env["STACK_PROJECT"]
    stack = Path(env["STACK_DIR"])

    started = invoke(env, "up", "--replicas", "2")
    assert started.returncode == 0, started.stdout + started.stderr
    assert (
        "Pulling" not in started.stdout + started.stderr
    )  # the service image is built, never pulled
    assert "Mode: docker" in started.stdout

    report = json.loads(invoke(env, "status", "--json").stdout)
    assert [c["name"] for c in report["components"]] == [
        *nats_components(),
        "dynamodb",
        "gateway",
        "controlplane",
        "balance-1",
        "balance-2",
    ]
    assert all(c["healthy"] for c in report["components"]), report
    assert {j["name"]: j["state"] for j in report["jobs"]} == {
        "nats-volume": "succeeded",
        "dynamodb-volume": "succeeded",
        "bootstrap": "succeeded",
    }

    assert running_as_root(project) == []

    if commands.NATS_NODES > 1:
        check_the_cluster(env, report)
        a_stopped_node_is_started_by_up_and_catches_up(env, project)

    answer = invoke(env, "req", "678")
    assert answer.returncode == 0, answer.stderr
    assert set(json.loads(answer.stdout)) == {"balance"}
    assert "nothing changed" in invoke(env, "up", "--replicas", "2").stdout

    # The image holds the runtime alone and runs as the unprivileged user.
    probe = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        service_image(),
        "-c",
        "import importlib.util as u, os; print(u.find_spec('service') is not None,"
        " u.find_spec('devkit') is not None, os.getuid())",
    )
    assert probe.stdout.split() == ["True", "False", "10001"], probe.stderr

    server_list = ",".join(
        f"nats://127.0.0.1:{taken_port(env, variable)}"
        for variable in NODE_PORTS[: commands.NATS_NODES]
    )
    failures: dict[str, int] = {}
    outcomes = asyncio.run(
        burst_while_stopping(
            server_list,
            stack / "creds" / "client.creds",
            f"{project}-balance-2",
            failures,
        )
    )
    assert outcomes == {"ok": BURST, "failed": 0}, failures

    result_path = stack.parent / "bench.json"
    benched = invoke(env, "bench", "-n", "5000", "-c", "200", "--json", str(result_path))
    assert benched.returncode == 0, benched.stdout + benched.stderr
    result = json.loads(result_path.read_text())
    assert (result["ok"], result["errors"], result["timeouts"]) == (5000, {}, 0)
    assert {"generator", "nats", "dynamodb", "gateway", "balance-1"} <= set(result["cpu_s"])

    assert project_resources(project) != {"containers": [], "volumes": [], "networks": []}
    wiped = invoke(env, "down", "--wipe")
    assert wiped.returncode == 0, wiped.stderr
    assert project_resources(project) == {"containers": [], "volumes": [], "networks": []}
    assert not stack.exists()
