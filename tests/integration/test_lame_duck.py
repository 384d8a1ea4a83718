"""A node of the three-node cluster put in lame-duck mode (`nats-server --signal ldm=<pid>`, as
an upgrade does) while requests flow, with the only service replica and the callers on it:
both move to another node before it closes them (service.lame_duck), and every request is
answered. No chaos harness: one replica, one caller, the stream's leader kept elsewhere (a
leadership moving is the chaos suite's case, with its leaderless window)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devkit import platform_names
from devkit.chaos.load import open_loop
from devkit.chaos.sockets import connected_ports
from devkit.stack.config import is_nats_node
from devkit.stack.processes import find_binary, process_alive
from devkit.stack.state import Component, StackState
from service import names
from service.connection import open_connection
from service.credentials import inbox_prefix_of
from tests.support.commands import invoke, stack_environment
from tests.support.servers import wait_gone

pytestmark = pytest.mark.integration

RATE = 100
LOAD_S = 16.0
"""Long enough for the node's 10 s grace period and its exit, which the test waits for."""
LAME_DUCK_AT_S = 2.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The cluster with one replica: nobody else could answer for it; always removed."""
    env = stack_environment(tmp_path / "stack", "native", nats_nodes=3)
    try:
        up = invoke(env, "up", "-r", "1")
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        invoke(env, "down", "--wipe")


def port_of(url: str) -> int:
    return int(url.rpartition(":")[2])


def node_of(pid: int, nodes: dict[str, Component]) -> Component:
    """The node `pid` is connected to."""
    ports = connected_ports(pid)
    (node,) = [n for n in nodes.values() if n.address and port_of(n.address) in ports]
    return node


async def stream_leader(servers: str, creds: Path) -> str | None:
    nc = await open_connection(
        servers=[servers], user_credentials=str(creds), inbox_prefix=inbox_prefix_of(creds)
    )
    try:
        info = await nc.jetstream(timeout=5).stream_info(names.STREAM_NAME)
        return info.cluster.leader if info.cluster else None
    finally:
        await nc.close()


async def step_down(servers: str, admin: Path, preferred: str) -> None:
    """Ask the stream's leader to hand its leadership to `preferred` (NATS 2.11+)."""
    nc = await open_connection(servers=[servers], user_credentials=str(admin))
    try:
        await nc.request(
            f"$JS.API.STREAM.LEADER.STEPDOWN.{names.STREAM_NAME}",
            json.dumps({"placement": {"preferred": preferred}}).encode(),
            timeout=5,
        )
    finally:
        await nc.close()


def server_name(node: Component) -> str:
    varz = httpx.get(f"{node.address_monitor}/varz", timeout=5).json()
    return str(varz["server_name"])


def test_every_request_is_answered_while_the_replicas_node_goes_lame_duck(
    stack: dict[str, str],
) -> None:
    root = Path(stack["STACK_DIR"])
    state = StackState.load(root / "state.json")
    nodes = {name: c for name, c in sorted(state.components.items()) if is_nats_node(name)}
    (replica,) = state.replicas()
    assert replica.pid is not None
    leaving = node_of(replica.pid, nodes)
    others = [n for n in nodes.values() if n is not leaving]
    everyone = ",".join(n.address for n in nodes.values() if n.address)
    creds = root / "creds"
    leader = asyncio.run(stream_leader(everyone, creds / f"{platform_names.READER_USER}.creds"))
    names_of_others = [server_name(n) for n in others]
    for _ in range(10):
        if leader in names_of_others:
            break
        admin = creds / f"{platform_names.ADMIN_USER}.creds"
        asyncio.run(step_down(everyone, admin, names_of_others[0]))
        time.sleep(0.5)  # the election is asked for, then held: polled, not awaited
        leader = asyncio.run(stream_leader(everyone, creds / f"{platform_names.READER_USER}.creds"))
    assert leader in names_of_others, f"the stream's leader stays on the node leaving: {leader}"
    pid = state.components[next(k for k, v in nodes.items() if v is leaving)].pid
    assert pid is not None
    gone: list[float] = []

    def lame_duck() -> None:
        subprocess.run(
            [str(find_binary("nats-server")), "--signal", f"ldm={pid}"],
            check=True,
            capture_output=True,
        )
        signalled = time.monotonic()
        wait_gone(pid, LOAD_S)  # the node exits in lame-duck mode within the load
        gone.append(time.monotonic() - signalled)

    # The callers start on the node leaving (the list in order), as the replica is.
    callers = ",".join(n.address for n in (leaving, *others) if n.address)
    timeline = asyncio.run(
        open_loop(
            callers,
            creds / f"{platform_names.CLIENT_USER}.creds",
            rate=RATE,
            duration_s=LOAD_S,
            ids=[str(n) for n in range(1, 101)],
            schedule=[(LAME_DUCK_AT_S, "lame duck", lame_duck)],
            randomize=False,
        )
    )
    assert leaving.address is not None
    assert timeline.servers["lame duck"] == leaving.address.partition("//")[2]
    assert gone, "the node was still running when the load ended"
    assert timeline.codes() == {200: len(timeline.shots)}
    assert not process_alive(pid)
    moved = [
        json.loads(line)
        for line in Path(replica.log).read_text().splitlines()
        if '"nats.lame_duck"' in line
    ]
    assert [m.get("moved") for m in moved] == [True], moved
    assert process_alive(replica.pid)  # the same process: no restart hid a loss
