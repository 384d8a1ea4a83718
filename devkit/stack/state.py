"""What `invoke up` started, kept in `.stack/state.json` (git-ignored).

`down` stops exactly these processes, by PID, after checking each PID still runs what was
launched; in docker mode the state names the env file Compose was started with.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel

from devkit import platform_names
from devkit.stack.config import is_nats_node
from devkit.stack.processes import http_answer_s, http_ok, process_alive, process_matches
from service import names
from service.health import check_heartbeat

NATIVE: Literal["native"] = "native"
DOCKER: Literal["docker"] = "docker"
Mode = Literal["native", "docker"]

REPLICA_PREFIX = "balance-"
GATEWAY = "gateway"
"""The local HTTP gateway: a process on the host in both modes."""
CONTROLPLANE = "controlplane"
"""The local control-plane API: a process on the host in both modes."""
HOST_TWINS = (GATEWAY, CONTROLPLANE)
"""The local twins of what Synadia Cloud serves around NATS, in the order they start."""


def replica_name(index: int) -> str:
    return f"{REPLICA_PREFIX}{index}"


def component_order(name: str) -> tuple[int, int]:
    """nats, dynamodb, the twins, then the replicas by number: one order in both modes."""
    if name.startswith(REPLICA_PREFIX) and name[len(REPLICA_PREFIX) :].isdigit():
        return 4, int(name[len(REPLICA_PREFIX) :])
    if is_nats_node(name) and name != "nats":
        return 0, int(name.removeprefix("nats-"))
    return {"nats": 0, "dynamodb": 1, GATEWAY: 2, CONTROLPLANE: 3}.get(name, 5), 0


class Component(BaseModel):
    """One process of the stack on this machine (every one in native mode, the twins in docker
    mode). Recorded before it is started (pid None: intent), its pid the moment it exists."""

    name: str
    pid: int | None = None
    marker: str
    """A string the process's command line contains, to guard against recycled PIDs."""
    log: str
    address: str | None = None
    address_monitor: str | None = None
    address_cluster: str | None = None
    """A node of the cluster: its route address."""
    health_file: str | None = None

    def running(self) -> bool:
        if self.pid is None:
            return False
        return process_alive(self.pid) and process_matches(self.pid, self.marker)

    def healthy(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the component is not healthy, or None when it is."""
        if not self.running():
            return "stopped"
        if is_nats_node(self.name):
            return _nats_health(f"{self.address_monitor}/healthz")
        if self.name == "dynamodb":
            return _answers(f"{self.address}/moto-api/")
        if self.name in HOST_TWINS:
            return _answers(f"{self.address}/healthz")
        if self.health_file:
            return check_heartbeat(
                Path(self.health_file),
                now=time.time(),
                interval_s=names.HEALTH_INTERVAL_S,
                ready=True,  # healthy in the status means serving, not merely alive
            )
        return None


def _answers(url: str) -> str | None:
    return None if http_ok(url) else f"{url} does not answer OK"


SLOW: Final = "slow to answer its health endpoint"
HEALTH_LIMIT_S: Final = 1.0
"""A health endpoint slower than this is reported as slow (nats still retrying an account's
JWT after the account was deleted answers in ~1.9 s), not as not serving."""
SLOW_LIMIT_S: Final = 5.0


def _nats_health(url: str) -> str | None:
    seconds = http_answer_s(url, SLOW_LIMIT_S)
    if seconds is None:
        return f"{url} does not answer OK"
    if seconds > HEALTH_LIMIT_S:
        return f"{SLOW}: {url} took {seconds:.2f} s (over {HEALTH_LIMIT_S:g} s)"
    return None


class Recorded(BaseModel):
    """What `up` started the stack with; tasks talk to that stack, whatever the environment
    says later (another STACK_NATS_PORT, another directory)."""

    nats_port: int
    nats_monitor_port: int
    nats_cluster_port: int = platform_names.NATS_CLUSTER_PORT
    nats_2_port: int = platform_names.NATS_2_PORT
    nats_2_monitor_port: int = platform_names.NATS_2_MONITOR_PORT
    nats_2_cluster_port: int = platform_names.NATS_2_CLUSTER_PORT
    nats_3_port: int = platform_names.NATS_3_PORT
    nats_3_monitor_port: int = platform_names.NATS_3_MONITOR_PORT
    nats_3_cluster_port: int = platform_names.NATS_3_CLUSTER_PORT
    nats_nodes: int = 1
    """States written before the cluster existed: one server."""
    nats_3_route_via: str = ""
    """STACK_NATS_3_ROUTE_VIA: a later `up` without it keeps node 3's routes through the proxy
    (its restarted nodes too), rather than routing around it."""
    dynamodb_port: int
    gateway_port: int = platform_names.GATEWAY_PORT
    controlplane_port: int = platform_names.CONTROLPLANE_PORT
    table: str
    account: str
    project: str


class StackState(BaseModel):
    mode: Mode = NATIVE
    recorded: Recorded | None = None
    replica_count: int | None = None
    """The replica count last asked for: a plain `invoke up` keeps it."""
    components: dict[str, Component] = {}
    compose_env: str | None = None
    """Docker mode: the env file `docker compose` was started with."""
    compose_project: str | None = None
    """Docker mode: the Compose project name (states written before it existed: the default)."""

    @classmethod
    def load(cls, path: Path) -> StackState:
        if not path.exists():
            return cls()
        return cls.model_validate_json(path.read_bytes())

    @property
    def active(self) -> bool:
        return bool(self.components) or self.compose_env is not None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(self.model_dump_json(indent=2))
        temporary.replace(path)

    def replicas(self) -> list[Component]:
        return sorted(
            (c for c in self.components.values() if c.name.startswith(REPLICA_PREFIX)),
            key=lambda c: int(c.name.removeprefix(REPLICA_PREFIX)),
        )
