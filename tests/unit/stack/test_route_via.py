"""STACK_NATS_3_ROUTE_VIA, the chaos suite's seam: node 3's routes all pass one proxy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from devkit.auth.security import RouteCredentials
from devkit.stack.config import StackConfig
from devkit.stack.native import cluster_settings

PORTS = {
    "nats_cluster_port": 16222,
    "nats_2_cluster_port": 16223,
    "nats_3_cluster_port": 16224,
}

ROUTE = RouteCredentials("route", "0123abcd")


def config(**fields: object) -> StackConfig:
    return StackConfig.model_validate({"nats_nodes": 3, **PORTS, **fields})


def test_without_it_every_node_routes_to_the_others_own_ports() -> None:
    plain = config()
    node_1 = cluster_settings(plain, plain.nats_node(1), ROUTE)
    assert node_1.routes == ("nats-route://127.0.0.1:16223", "nats-route://127.0.0.1:16224")
    assert node_1.advertise == ""
    assert "advertise" not in node_1.block("127.0.0.1")


def test_with_it_the_others_dial_node_3_through_the_proxy_and_node_3_dials_none() -> None:
    proxied = config(nats_3_route_via="127.0.0.1:40000")
    for index in (1, 2):
        routes = cluster_settings(proxied, proxied.nats_node(index), ROUTE).routes
        assert "nats-route://127.0.0.1:40000" in routes
        assert "nats-route://127.0.0.1:16224" not in routes
    node_3 = cluster_settings(proxied, proxied.nats_node(3), ROUTE)
    assert node_3.routes == ()
    assert node_3.advertise == "127.0.0.1:40000"
    assert "  advertise: 127.0.0.1:40000\n" in node_3.block("127.0.0.1")


@pytest.mark.parametrize("address", ["0.0.0.0:40000", "example.com:1", "40000"])
def test_only_a_local_address_is_taken(address: str) -> None:
    with pytest.raises(ValidationError):
        config(nats_3_route_via=address)


def test_the_others_route_to_the_proxy_before_node_3_has_a_port() -> None:
    starting = config(nats_3_route_via="127.0.0.1:40000", nats_3_cluster_port=0)
    assert (
        "nats-route://127.0.0.1:40000"
        in cluster_settings(starting, starting.nats_node(1), ROUTE).routes
    )
