"""A stack whose servers choose their own ports (`STACK_*_PORT=0`): `up` reads them back and
records them, every later task uses them, and two such stacks run side by side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.commands import (
    invoke,
    nats_components,
    stack_environment,
    taken_port,
    used_ports,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def two_stacks(tmp_path: Path) -> Iterator[list[dict[str, str]]]:
    envs = [stack_environment(tmp_path / name, "native") for name in ("one", "two")]
    with ExitStack() as cleanup:
        for env in envs:
            cleanup.callback(invoke, env, "down", "--wipe")
        yield envs


def addresses(env: dict[str, str]) -> dict[str, int]:
    """The port of each address `invoke status --json` reports."""
    report = json.loads(invoke(env, "status", "--json").stdout)
    found = {c["name"]: urlsplit(c["address"]).port for c in report["components"]}
    servers = report["nats_url"].split(",")  # a cluster's is the list of its nodes'
    assert servers == [c["address"] for c in report["components"] if c["name"] in nats_components()]
    found["nats_url"] = urlsplit(servers[0]).port
    found["dynamodb_endpoint"] = urlsplit(report["dynamodb_endpoint"]).port
    return {name: port for name, port in found.items() if port is not None}


def test_two_stacks_on_ports_their_servers_chose_run_side_by_side(
    two_stacks: list[dict[str, str]],
) -> None:
    all_ports = used_ports()
    for env in two_stacks:
        assert all(env[variable] == "0" for variable in all_ports)
        up = invoke(env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
    taken = [{v: taken_port(env, v) for v in all_ports} for env in two_stacks]
    for ports in taken:
        assert 0 not in ports.values()
        assert len(set(ports.values())) == len(all_ports)
    assert not set(taken[0].values()) & set(taken[1].values())

    for env, ports in zip(two_stacks, taken, strict=True):
        reported = addresses(env)
        assert reported["nats_url"] == reported["nats"] == ports["STACK_NATS_PORT"]
        assert reported["dynamodb_endpoint"] == reported["dynamodb"]
        assert reported["dynamodb"] == ports["STACK_DYNAMODB_PORT"]
        assert reported["gateway"] == ports["STACK_GATEWAY_PORT"]
        assert reported["controlplane"] == ports["STACK_CONTROLPLANE_PORT"]
        answered = invoke(env, "req", "678")
        assert answered.returncode == 0, answered.stderr
        assert '"balance"' in answered.stdout
        again = invoke(env, "up")  # port 0 asks for any port: the running stack's is no change
        assert again.returncode == 0, again.stderr
        assert "nothing changed" in again.stdout


def test_the_gateway_on_a_chosen_port_reaches_nats_on_its_chosen_port(
    two_stacks: list[dict[str, str]],
) -> None:
    """The twins are started with the port nats took, not the 0 the environment asks for."""
    env = two_stacks[0]
    assert invoke(env, "up").returncode == 0
    token = invoke(env, "token", "--user", "client").stdout.strip()
    gateway = f"http://127.0.0.1:{taken_port(env, 'STACK_GATEWAY_PORT')}"
    answer = httpx.post(
        f"{gateway}/v1/nats/subjects/customer.balance",
        content=b'{"client_id":"678"}',
        headers={"Authorization": token},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "balance" in answer.json()
