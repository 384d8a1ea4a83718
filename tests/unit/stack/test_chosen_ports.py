"""Ports the servers choose (`STACK_*_PORT=0`): the stack runs with the ones they took from the
moment they are known, and 0 asks for any port, so it never differs from the running stack's."""

from __future__ import annotations

from pathlib import Path

from devkit.stack.compose import compose_environment
from devkit.stack.config import StackConfig
from devkit.stack.docker import published
from devkit.stack.stack import Stack, differences
from devkit.stack.state import Component, StackState


def chosen(root: Path) -> StackConfig:
    return StackConfig(
        root=root,
        nats_port=0,
        nats_monitor_port=0,
        dynamodb_port=0,
        gateway_port=0,
        controlplane_port=0,
    )


def test_the_ports_a_server_took_are_the_stacks_from_then_on(tmp_path: Path) -> None:
    with Stack.opened(chosen(tmp_path)) as stack:
        stack.state.components["nats"] = Component(
            name="nats", pid=1, marker="nats-server", log="-", address="nats://127.0.0.1:0"
        )
        stack.took(
            "nats",
            {"nats_port": 41001, "nats_monitor_port": 41002},
            {"address": "nats://127.0.0.1:41001"},
        )
        assert stack.config.nats_url == "nats://127.0.0.1:41001"
        assert stack.config.dynamodb_port == 0  # not started yet
    saved = StackState.load(tmp_path / "state.json")
    assert saved.recorded is not None
    assert (saved.recorded.nats_port, saved.recorded.nats_monitor_port) == (41001, 41002)
    assert saved.components["nats"].address == "nats://127.0.0.1:41001"
    with Stack.opened(chosen(tmp_path)) as later:  # the next command: the recorded ports
        assert later.config.nats_port == 41001
        assert later.other_configuration == []


def test_port_0_is_no_difference_but_another_port_is(tmp_path: Path) -> None:
    state = StackState(
        components={"nats": Component(name="nats", pid=1, marker="-", log="-")},
    )
    with Stack.opened(chosen(tmp_path)) as stack:
        stack.state = state
        stack.took("nats", {"nats_port": 41001}, {})
    assert differences(chosen(tmp_path), state) == []
    moved = StackConfig(root=tmp_path, nats_port=41003)
    assert differences(moved, state) == ["STACK_NATS_PORT=41003 (the running stack has 41001)"]


def test_compose_is_given_an_empty_port_for_0_on_every_up(tmp_path: Path) -> None:
    """Compose publishes an empty host port on one the system chooses; a second `up` of the
    running stack gives it the same inputs, not the port it took."""
    with Stack.opened(chosen(tmp_path)) as stack:
        stack.state.components["gateway"] = Component(name="gateway", marker="-", log="-")
        stack.runs_on({"nats_port": 41001, "dynamodb_port": 41002})
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "service.creds").write_text("creds")
    with Stack.opened(chosen(tmp_path)) as running:
        assert running.config.nats_port == 41001
        given = compose_environment(published(running), replicas=1)
    assert (given["NATS_PORT"], given["DYNAMODB_PORT"]) == ("", "")
    with Stack.opened(StackConfig(root=tmp_path, nats_port=41001)) as fixed:
        given = compose_environment(published(fixed), replicas=1)
    assert (given["NATS_PORT"], given["DYNAMODB_PORT"]) == ("41001", "41002")


def test_the_route_proxy_is_recorded_so_a_later_up_keeps_it(tmp_path: Path) -> None:
    """STACK_NATS_3_ROUTE_VIA is the stack's like its ports: a later command without it routes
    through the proxy still (a restarted node too), and another proxy is a difference."""
    proxied = StackConfig(root=tmp_path, nats_nodes=3, nats_3_route_via="127.0.0.1:40000")
    with Stack.opened(proxied) as stack:
        stack.state.components["nats"] = Component(name="nats", pid=1, marker="-", log="-")
        stack.save()
    with Stack.opened(StackConfig(root=tmp_path)) as later:
        assert later.config.nats_3_route_via == "127.0.0.1:40000"
        assert later.config.route_to(later.config.nats_node(3)) == "nats-route://127.0.0.1:40000"
        assert later.other_configuration == []
    other = StackConfig(root=tmp_path, nats_nodes=3, nats_3_route_via="127.0.0.1:40001")
    with Stack.opened(other) as moved:
        assert moved.other_configuration == [
            "STACK_NATS_3_ROUTE_VIA=127.0.0.1:40001 (the running stack has 127.0.0.1:40000)"
        ]


def test_a_route_proxy_asked_of_a_stack_started_without_one_is_a_difference(
    tmp_path: Path,
) -> None:
    plain = StackConfig(root=tmp_path, nats_nodes=3)
    with Stack.opened(plain) as stack:
        stack.state.components["nats"] = Component(name="nats", pid=1, marker="-", log="-")
        stack.save()
    proxied = StackConfig(root=tmp_path, nats_nodes=3, nats_3_route_via="127.0.0.1:40000")
    with Stack.opened(proxied) as later:
        assert later.other_configuration == [
            "STACK_NATS_3_ROUTE_VIA=127.0.0.1:40000 (the running stack has none)"
        ]
