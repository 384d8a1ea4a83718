"""`docker compose ps` read as the native stack's components: the same names (`balance-2` for
`customer-balance-balance-2`), addresses and order, with the one-shot jobs told apart."""

from __future__ import annotations

from pydantic import BaseModel, TypeAdapter

from devkit.stack.config import NatsNode, StackConfig, is_nats_node
from devkit.stack.report import ComponentStatus
from devkit.stack.state import replica_name
from service import names

JOBS = ("nats-volume", "dynamodb-volume", "bootstrap")
"""One-shot services (`restart: "no"`): reported apart from the components."""
REPLICATED = "balance"
CONTAINER_CLUSTER_PORT = 6222
"""A cluster node's route port inside its container: the other nodes reach it by service name
on the Compose network; never published."""


class Publisher(BaseModel):
    URL: str = ""
    PublishedPort: int = 0


class ComposeRow(BaseModel):
    """One container in `docker compose ps --format json`; unknown fields are ignored."""

    Name: str = ""
    Service: str = ""
    State: str = ""
    Health: str | None = None
    ExitCode: int = 0
    Publishers: list[Publisher] | None = None

    @property
    def component(self) -> str:
        """The native stack's name for it: `balance-2` for `customer-balance-balance-2`."""
        if self.Service == REPLICATED:
            return replica_name(int(self.Name.rsplit("-", 1)[-1]))
        return self.Service

    @property
    def running(self) -> bool:
        return self.State == "running"

    def status(self, config: StackConfig) -> ComponentStatus:
        """A nats service (`nats`, `nats-2`, `nats-3`) is addressed by its node's published
        port; on the cluster its route is the one the other nodes use on the Compose network."""
        address = f"{names.REQUEST_SUBJECT} (queue {names.QUEUE_GROUP})"
        route = None
        if is_nats_node(self.Service):
            node = config.nats_node(node_index(self.Service))
            address = node.url
            if config.clustered:
                route = container_route(node)
        elif self.Service == "dynamodb":
            address = config.dynamodb_endpoint
        return ComponentStatus(
            name=self.component,
            pid=None,
            address=address,
            route=route,
            running=self.running,
            healthy=self.running and self.Health in ("", "healthy", None),
            log=None,
        )


def container_route(node: NatsNode) -> str:
    """A node's route URL on the Compose network (the other nodes connect to it)."""
    return f"nats-route://{node.name}:{CONTAINER_CLUSTER_PORT}"


def node_index(service: str) -> int:
    """`nats` is node 1 of the cluster, `nats-2` node 2."""
    return 1 if service == "nats" else int(service.rsplit("-", 1)[1])


def compose_selection(component: str | None) -> list[str]:
    """`balance-2` is replica 2 of the `balance` service; other names are services already."""
    if component is None:
        return []
    service, _, index = component.rpartition("-")
    if service == REPLICATED and index.isdigit():
        return ["--index", index, service]
    return [component]


def compose_rows(output: str) -> list[ComposeRow]:
    """`ps --format json` prints an array (older Compose) or one object per line (newer)."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        return _ROWS.validate_json(text)
    return [ComposeRow.model_validate_json(line) for line in text.splitlines() if line.strip()]


_ROWS = TypeAdapter(list[ComposeRow])
