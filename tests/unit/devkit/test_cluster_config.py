"""The cluster's decisions, without servers: the node list and the server list clients get,
the cloud's replica count, routes to what is known, and when replicas start afresh."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from devkit.auth.security import RouteCredentials
from devkit.stack.cluster import NO_ROUTE_YET, ClusterSettings
from devkit.stack.compose import stream_replicas
from devkit.stack.config import ConfigurationError, StackConfig, is_nats_node, load_stack_config
from devkit.stack.native import cluster_settings, replicas_start_afresh
from devkit.stack.readiness import unled_streams
from devkit.stack.replication import Replica, Replication
from devkit.stack.servers import nats_cluster_ports, nats_config
from service.connection import server_list

ROUTE = RouteCredentials("route", "0123abcd")


def test_one_server_keeps_one_url_and_the_cloud_settings_stay_r1() -> None:
    config = StackConfig(nats_port=4000)
    assert config.nats_url == "nats://127.0.0.1:4000"
    assert [n.name for n in config.nats_nodes_list] == ["nats"]
    assert "STREAM_REPLICAS" not in config.service_environment()


def test_the_cluster_gives_every_client_the_server_list_and_r3() -> None:
    config = StackConfig(nats_nodes=3, nats_port=4000, nats_2_port=4001, nats_3_port=4002)
    assert [n.name for n in config.nats_nodes_list] == ["nats", "nats-2", "nats-3"]
    assert config.nats_url == "nats://127.0.0.1:4000,nats://127.0.0.1:4001,nats://127.0.0.1:4002"
    assert server_list(config.nats_url) == [
        "nats://127.0.0.1:4000",
        "nats://127.0.0.1:4001",
        "nats://127.0.0.1:4002",
    ]
    assert config.service_environment()["STREAM_REPLICAS"] == "3"
    assert config.service_environment()["NATS_URL"] == config.nats_url


def test_a_service_override_of_the_replicas_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK_NATS_NODES", "3")
    monkeypatch.setenv("STACK_SERVICE_STREAM_REPLICAS", "1")
    assert load_stack_config().service_environment()["STREAM_REPLICAS"] == "1"


@pytest.mark.parametrize("nodes", ["2", "0", "5", "three"])
def test_only_one_or_three_nodes(monkeypatch: pytest.MonkeyPatch, nodes: str) -> None:
    monkeypatch.setenv("STACK_NATS_NODES", nodes)
    with pytest.raises(ConfigurationError, match="STACK_NATS_NODES") as refused:
        load_stack_config()
    assert refused.value.exit_code == 2
    assert "\n" not in str(refused.value)


def test_a_node_routes_to_the_others_whose_route_port_is_known() -> None:
    config = StackConfig(nats_nodes=3, nats_cluster_port=0, nats_2_cluster_port=0)
    config = config.model_copy(update={"nats_cluster_port": 6000})
    assert cluster_settings(config, config.nats_node(1), ROUTE).routes == (
        f"nats-route://127.0.0.1:{config.nats_3_cluster_port}",
    )
    assert cluster_settings(config, config.nats_node(2), ROUTE).routes == (
        "nats-route://127.0.0.1:6000",
        f"nats-route://127.0.0.1:{config.nats_3_cluster_port}",
    )
    alone = StackConfig(
        nats_nodes=3, nats_cluster_port=0, nats_2_cluster_port=0, nats_3_cluster_port=0
    )
    assert cluster_settings(alone, alone.nats_node(1), ROUTE).routes == ()


def test_a_node_that_knows_no_other_is_given_a_route_that_refuses() -> None:
    text = nats_config(
        port=0,
        monitor_port=0,
        data_dir=PurePath("/d"),
        server_name="nats-2",
        cluster=ClusterSettings(port=0, routes=(), credentials=ROUTE),
    )
    assert "server_name: nats-2\n" in text
    assert "  listen: 127.0.0.1:-1\n" in text
    assert ROUTE.url(NO_ROUTE_YET) in text


def test_a_cluster_nodes_ports_file_has_its_route_port() -> None:
    written = (
        '{"nats": ["nats://127.0.0.1:1"], "monitoring": ["http://127.0.0.1:2"],'
        ' "cluster": ["nats://127.0.0.1:3"]}'
    )
    assert nats_cluster_ports(written) == (1, 2, 3)
    assert nats_cluster_ports('{"nats": ["nats://127.0.0.1:1"], "monitoring": []}') is None


def test_replicas_start_afresh_only_when_every_server_they_used_restarted() -> None:
    assert replicas_start_afresh(nats_restarted=True, dynamodb_restarted=False)
    assert replicas_start_afresh(nats_restarted=False, dynamodb_restarted=True)
    assert not replicas_start_afresh(nats_restarted=False, dynamodb_restarted=False)


def test_nats_node_names() -> None:
    assert all(is_nats_node(n) for n in ("nats", "nats-2", "nats-3"))
    assert not any(is_nats_node(n) for n in ("nats-cli", "natsx", "balance-1", "dynamodb"))


def test_every_replica_current_needs_a_leader_and_all_followers() -> None:
    follower = Replica(name="nats-2", current=True)
    behind = Replica(name="nats-3", current=False, lag=4)
    whole = Replication(
        name="s", kind="stream", replicas=3, leader="nats", followers=[follower, follower]
    )
    assert whole.all_current
    assert not whole.model_copy(update={"followers": [follower, behind]}).all_current
    assert not whole.model_copy(update={"followers": [follower]}).all_current
    assert not whole.model_copy(update={"leader": None}).all_current
    assert (
        "nats-3 behind (lag 4)"
        in whole.model_copy(update={"followers": [follower, behind]}).describe()
    )


def test_a_stream_without_a_leader_is_not_ready() -> None:
    jsz = {
        "account_details": [
            {
                "stream_detail": [
                    {"name": "customer-balances", "cluster": {"leader": "nats-2"}},
                    {"name": "KV_config", "cluster": {"name": "local"}},
                ]
            },
            {"name": "no streams"},
        ]
    }
    assert unled_streams(jsz) == ["KV_config"]
    assert unled_streams({}) == []


def test_every_route_asks_for_and_carries_the_route_credentials() -> None:
    """A route port without `authorization` lets anything on 127.0.0.1 join as a node."""
    settings = ClusterSettings(
        port=6222,
        routes=("nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:40000"),
        credentials=ROUTE,
    )
    block = settings.block("127.0.0.1:6222")
    assert '  authorization {\n    user: "route"\n    password: "0123abcd"\n  }\n' in block
    assert "    nats-route://route:0123abcd@127.0.0.1:6223\n" in block
    assert "    nats-route://route:0123abcd@127.0.0.1:40000\n" in block
    assert "nats-route://127.0.0.1" not in block
    alone = ClusterSettings(port=0, routes=(), credentials=ROUTE).routes_block()
    assert ROUTE.url(NO_ROUTE_YET) in alone


def test_the_route_password_is_never_in_a_repr() -> None:
    assert "0123abcd" not in repr(ROUTE)
    assert "0123abcd" not in repr(ClusterSettings(port=0, routes=(), credentials=ROUTE))


@pytest.mark.parametrize(
    ("nodes", "override", "wanted"),
    [("1", None, "1"), ("3", None, "3"), ("3", "1", "1"), ("1", "3", "3")],
)
def test_docker_mode_gives_the_containers_the_native_stream_replicas(
    monkeypatch: pytest.MonkeyPatch, nodes: str, override: str | None, wanted: str
) -> None:
    """STACK_SERVICE_STREAM_REPLICAS still wins in docker mode (docs/local-stack.md)."""
    monkeypatch.setenv("STACK_NATS_NODES", nodes)
    if override is not None:
        monkeypatch.setenv("STACK_SERVICE_STREAM_REPLICAS", override)
    config = load_stack_config()
    assert stream_replicas(config) == wanted
    native = config.service_environment().get("STREAM_REPLICAS", "1")
    assert stream_replicas(config) == native
