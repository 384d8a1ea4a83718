"""A node's place in the local NATS cluster: its `cluster {}` block, and its routes, given at
start from what is known and completed by a reload once every node's route port is."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from devkit import platform_names
from devkit.auth.private_files import write_private
from devkit.auth.security import RouteCredentials
from service import names


@dataclass(frozen=True)
class ClusterSettings:
    """A node's place in the cluster: its route port, and the routes to the other nodes it knows
    (a node started before the others, on chosen ports, knows none: they route to it)."""

    port: int
    routes: tuple[str, ...]
    credentials: RouteCredentials
    """Asked of every node routing to this one, and given to every node this one routes to."""
    name: str = platform_names.NATS_CLUSTER_NAME
    advertise: str = ""
    """host:port the other nodes are told to reach this one's routes at, when not its own."""
    no_advertise: bool = False
    """Clients are not told the other nodes' addresses (in containers, ones the host may not
    reach); each client is given the server list."""

    def block(self, listen: str) -> str:
        """The `cluster {}` block of nats-server's configuration, listening on `listen`."""
        advertise = f"  advertise: {self.advertise}\n" if self.advertise else ""
        advertise += "  no_advertise: true\n" if self.no_advertise else ""
        return (
            f"cluster {{\n  name: {self.name}\n  listen: {listen}\n"
            f"{advertise}{self.credentials.authorization_block()}{self.routes_block()}}}\n"
        )

    def routes_block(self) -> str:
        """A JetStream cluster refuses to start with no route at all; the first node started
        on chosen ports knows no other, and is given one that refuses until `reroute_nats`
        gives it the others' (a node routing to a node that routes to it is how NATS meshes).
        Each route carries the credentials (the file is 0600; nats-server redacts them in logs)."""
        routes = "".join(
            f"    {self.credentials.url(route)}\n" for route in self.routes or (NO_ROUTE_YET,)
        )
        return f"  routes: [\n{routes}  ]\n"


NO_ROUTE_YET = f"nats-route://{names.LOCAL_HOST}:1"
"""A route nothing answers (port 1 needs root to listen on), for a node that knows no other."""


def reroute_nats(config_path: Path, cluster: ClusterSettings, pid: int) -> bool:
    """Give a running node of the cluster `cluster`'s routes (its config rewritten, then
    reloaded by SIGHUP, as nats-server reloads routes without a restart); False when it has
    them already. Rewritten 0600: the routes carry the cluster's password."""
    text = config_path.read_text()
    start = text.index("  routes: [\n")
    end = text.index("  ]\n", start) + len("  ]\n")
    wanted = cluster.routes_block()
    if text[start:end] == wanted:
        return False
    write_private(config_path, text[:start] + wanted + text[end:])
    os.kill(pid, signal.SIGHUP)
    return True
