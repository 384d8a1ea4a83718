"""The cluster's routes ask for credentials: a nats-server on this machine that knows the route
port but not the password never joins the cluster (it would see every account's messages, $SYS's
included, and could publish into the stream), while the stack's own nodes still form one."""

from __future__ import annotations

import json
import stat
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devkit import platform_names
from devkit.stack.processes import find_binary
from tests.support.commands import CLUSTER_NODES, invoke, running_cluster, taken_port

pytestmark = pytest.mark.integration

NODES = CLUSTER_NODES
INTRUDER = "intruder"
REFUSAL = "router connection closed: authentication failure"
"""What a node logs when a route presents no or wrong credentials (nats-server 2.15)."""
VERDICT_S = 30.0
"""How long the node may take to either refuse the intruder or take it in (it does one at once)."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_cluster(tmp_path_factory.mktemp("cluster-security")) as env:
        yield env


def routez(monitor_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/routez", timeout=5) as answer:
        report: dict[str, Any] = json.load(answer)
    return report


def remote_names(monitor_port: int) -> set[str]:
    return {route.get("remote_name", "") for route in routez(monitor_port).get("routes") or []}


def node_dir(env: dict[str, str], node: str) -> Path:
    return Path(env["STACK_DIR"]) / "cluster" / node


def route_password(env: dict[str, str]) -> str:
    password: str = json.loads((Path(env["STACK_DIR"]) / "security" / "keys.json").read_text())[
        "route_password"
    ]
    return password


@pytest.fixture
def intruder(cluster: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A nats-server of the cluster's name routing to node 1 with no credentials; its log."""
    route_port = taken_port(cluster, "STACK_NATS_CLUSTER_PORT")
    config = tmp_path / "intruder.conf"
    log = tmp_path / "intruder.log"
    config.write_text(
        f"server_name: {INTRUDER}\n"
        "listen: 127.0.0.1:-1\n"
        f'logfile: "{log}"\n'
        "cluster {\n"
        f"  name: {platform_names.NATS_CLUSTER_NAME}\n"
        "  listen: 127.0.0.1:-1\n"
        f"  routes: [ nats-route://127.0.0.1:{route_port} ]\n"
        "}\n"
    )
    process = subprocess.Popen(
        [str(find_binary("nats-server")), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_server_without_the_route_password_never_joins(
    cluster: dict[str, str], intruder: Path
) -> None:
    monitor_port = taken_port(cluster, "STACK_NATS_MONITOR_PORT")
    node_log = node_dir(cluster, "nats") / "nats.log"
    logged_before = node_log.read_text().lower().count(REFUSAL)
    deadline = time.monotonic() + VERDICT_S
    refused = joined = False
    while time.monotonic() < deadline and not (refused or joined):
        joined = INTRUDER in remote_names(monitor_port)
        refused = node_log.read_text().lower().count(REFUSAL) > logged_before
        time.sleep(0.1)  # polling two outcomes, one of which must come
    assert not joined, "a nats-server with no credentials joined the cluster"
    assert refused, (
        f"node 1 logged no refusal within {VERDICT_S:g} s; intruder: {intruder.read_text()}"
    )
    assert INTRUDER not in remote_names(monitor_port)


def test_the_stack_s_own_nodes_still_form_one_cluster(cluster: dict[str, str]) -> None:
    for index, node in enumerate(NODES, start=1):
        variable = "STACK_NATS_MONITOR_PORT" if index == 1 else f"STACK_NATS_{index}_MONITOR_PORT"
        others = set(NODES) - {node}
        assert others <= remote_names(taken_port(cluster, variable)), node


def test_the_route_password_is_only_in_private_files(cluster: dict[str, str]) -> None:
    """Every node's nats.conf holds it, 0600; no log, state or status output does."""
    password = route_password(cluster)
    for node in NODES:
        config = node_dir(cluster, node) / "nats.conf"
        assert password in config.read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600, node
    keys = Path(cluster["STACK_DIR"]) / "security" / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    for log in Path(cluster["STACK_DIR"]).rglob("*.log"):
        assert password not in log.read_text(errors="replace"), log
    assert password not in (Path(cluster["STACK_DIR"]) / "state.json").read_text()
    shown = invoke(cluster, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert password not in shown.stdout
