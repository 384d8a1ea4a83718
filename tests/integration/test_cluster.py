"""The local stack as a three-node JetStream cluster (`STACK_NATS_NODES=3`), whatever
`--nats-nodes` says: R3 stream and bucket with a leader and current followers, each node in the
status, a killed node restarted by `up` and caught up, accounts reaching every node."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit.controlplane.client import ControlPlane
from devkit.controlplane.models import (
    AccountCreateRequest,
    NatsUserCreateRequest,
    Permission,
    UserJwtSettings,
)
from devkit.stack.processes import process_alive
from tests.support.commands import (
    CLUSTER_NODES,
    invoke,
    running_cluster,
    stack_environment,
    taken_port,
)
from tests.support.servers import wait_gone
from tests.support.users import connect_user

pytestmark = pytest.mark.integration

NODES = CLUSTER_NODES
CATCH_UP_S = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One cluster stack for the module; `down --wipe` afterwards, whatever happens."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as env:
        yield env


def status(env: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(invoke(env, "status", "--json").stdout)
    return report


def nodes_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["components"] if c["name"] in NODES}


def test_each_node_is_in_the_status_with_its_addresses(cluster: dict[str, str]) -> None:
    report = status(cluster)
    nodes = nodes_of(report)
    assert set(nodes) == set(NODES)
    for index, name in enumerate(NODES, start=1):
        node = nodes[name]
        assert node["healthy"], node
        assert process_alive(node["pid"])
        variable = "STACK_NATS_PORT" if index == 1 else f"STACK_NATS_{index}_PORT"
        assert node["address"] == f"nats://127.0.0.1:{taken_port(cluster, variable)}"
        route = "STACK_NATS_CLUSTER_PORT" if index == 1 else f"STACK_NATS_{index}_CLUSTER_PORT"
        assert node["route"] == f"nats-route://127.0.0.1:{taken_port(cluster, route)}"
    assert report["nats_nodes"] == 3
    assert report["nats_url"].split(",") == [nodes[name]["address"] for name in NODES]
    assert len({n["pid"] for n in nodes.values()}) == 3

    table = invoke(cluster, "status")
    assert table.returncode == 0, table.stdout + table.stderr
    for name in NODES:
        assert nodes[name]["route"] in table.stdout
    assert "stream customer-balances: R3, leader nats" in table.stdout

    logs = invoke(cluster, "logs", "-c", "nats-2", "--lines", "1000")
    assert logs.returncode == 0, logs.stderr
    assert "Name:     nats-2" in logs.stdout  # the node's own log: its server name


def test_stream_and_bucket_have_three_replicas_a_leader_and_current_followers(
    cluster: dict[str, str], nats_cli_path: str
) -> None:
    replication = {r["kind"]: r for r in status(cluster)["replication"]}
    assert set(replication) == {"stream", "bucket"}
    for placed in replication.values():
        assert placed["replicas"] == 3
        assert placed["leader"] in NODES
        assert {f["name"] for f in placed["followers"]} == set(NODES) - {placed["leader"]}
        assert all(f["current"] for f in placed["followers"])
        assert placed["all_current"]

    assert invoke(cluster, "context").returncode == 0

    def info(stream: str) -> dict[str, Any]:
        shown = subprocess.run(
            [nats_cli_path, "--context", "local-admin", "stream", "info", stream, "--json"],
            env=cluster,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        found: dict[str, Any] = json.loads(shown.stdout)
        return found

    for stream in ("customer-balances", "KV_config"):
        shown = info(stream)
        assert shown["config"]["num_replicas"] == 3
        assert shown["config"]["max_bytes"] > 0  # the R3 tier requires it
        assert shown["cluster"]["leader"] in NODES
        replicas = shown["cluster"]["replicas"]
        assert len(replicas) == 2
        assert all(r["current"] for r in replicas)


def test_a_killed_node_is_restarted_by_up_and_catches_up(cluster: dict[str, str]) -> None:
    before = status(cluster)
    replicas = {
        c["name"]: c["pid"] for c in before["components"] if c["name"].startswith("balance-")
    }
    # A node that leads neither the stream nor the bucket (two groups, three nodes: one always):
    # losing a leader is the node faults' case; this one is the restart and the catch-up.
    leaders = {r["leader"] for r in before["replication"]}
    victim = next(n for n in reversed(NODES) if n not in leaders)
    killed = nodes_of(before)[victim]["pid"]
    os.kill(killed, signal.SIGKILL)
    wait_gone(killed)

    down = invoke(cluster, "status")
    assert down.returncode == 1
    assert f"{victim} stopped" in down.stderr
    answered = invoke(cluster, "req", "678")  # the others still serve, through the server list
    assert answered.returncode == 0, answered.stderr

    restarted = invoke(cluster, "up")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert f"Started: {victim}\n" in restarted.stdout
    after = status(cluster)
    assert nodes_of(after)[victim]["pid"] not in (None, killed)
    assert nodes_of(after)[victim]["address"] == nodes_of(before)[victim]["address"]
    # On a cluster the replicas failed over; they are not restarted.
    assert {
        c["name"]: c["pid"] for c in after["components"] if c["name"].startswith("balance-")
    } == replicas
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        report = status(cluster)
        placed = {r["leader"] for r in report["replication"]} | {
            f["name"] for r in report["replication"] for f in r["followers"] if f["current"]
        }
        if victim in placed and all(r["all_current"] for r in report["replication"]):
            return
        time.sleep(0.5)
    pytest.fail(f"{victim} did not catch up within {CATCH_UP_S:g} s: {report['replication']}")


def test_an_account_pushed_through_the_twin_reaches_every_node(cluster: dict[str, str]) -> None:
    root = Path(cluster["STACK_DIR"])
    twin = ControlPlane(
        f"http://127.0.0.1:{taken_port(cluster, 'STACK_CONTROLPLANE_PORT')}",
        (root / "security" / "controlplane-token").read_text().strip(),
    )
    try:
        (team,) = twin.teams()
        (system,) = twin.systems(team.id)
        account = twin.create_account(system.id, AccountCreateRequest(name="SPREAD"))
        (group,) = twin.signing_key_groups(account.id)
        user = twin.create_user(
            account.id,
            NatsUserCreateRequest(
                name="anywhere",
                sk_group_id=group.id,
                jwt_settings=UserJwtSettings(
                    pub=Permission(allow=["spread.>"]), sub=Permission(allow=["spread.>"])
                ),
            ),
        )
        creds = twin.creds(user.id)
    finally:
        twin.close()

    async def round_trip(port: int) -> bytes:
        nc = await connect_user(
            f"nats://127.0.0.1:{port}",
            creds,
            raw=True,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            connect_timeout=3,
        )
        try:
            sub = await nc.subscribe("spread.node")
            await nc.publish("spread.node", b"here")
            return (await sub.next_msg(timeout=5)).data
        finally:
            await nc.close()

    for variable in ("STACK_NATS_3_PORT", "STACK_NATS_2_PORT", "STACK_NATS_PORT"):
        assert asyncio.run(round_trip(taken_port(cluster, variable))) == b"here", variable


@pytest.mark.parametrize("nodes", ["2", "0", "three"])
def test_a_node_count_other_than_1_or_3_is_a_usage_error(tmp_path: Path, nodes: str) -> None:
    env = {**stack_environment(tmp_path / "stack", "native"), "STACK_NATS_NODES": nodes}
    refused = invoke(env, "up")
    assert refused.returncode == 2
    assert "STACK_NATS_NODES" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "stack" / "state.json").exists()


def test_up_with_another_node_count_than_the_running_stack_says_so(
    cluster: dict[str, str],
) -> None:
    for asked in (
        invoke({**cluster, "STACK_NATS_NODES": "1"}, "up"),
        invoke(cluster, "up", "--nodes", "1"),
    ):
        assert asked.returncode == 1
        assert "STACK_NATS_NODES=1 (the running stack has 3)" in asked.stderr
        assert "Traceback" not in asked.stderr


def test_the_nodes_flag_takes_1_or_3(tmp_path: Path) -> None:
    env = stack_environment(tmp_path / "stack", "native")
    refused = invoke(env, "up", "--nodes", "2")
    assert refused.returncode == 2
    assert refused.stderr == "error: --nodes must be 1 or 3, not '2'\n"


def test_the_whole_cluster_restarted_from_its_data_serves_again(cluster: dict[str, str]) -> None:
    """Stream leaders are elected after the meta leader: `up` waits for them before the
    bootstrap (which timed out before it did)."""
    assert invoke(cluster, "req", "678").returncode == 0
    before = status(cluster)["stream"]["messages"]
    stopped = invoke(cluster, "down")
    assert stopped.returncode == 0, stopped.stderr
    restarted = invoke(cluster, "up", "--nodes", "3")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    report = status(cluster)
    assert report["stream"]["messages"] >= before  # kept, on every node's store
    assert all(r["replicas"] == 3 and r["leader"] in NODES for r in report["replication"])
    assert invoke(cluster, "req", "678").returncode == 0
