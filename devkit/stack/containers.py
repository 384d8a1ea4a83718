"""`docker compose ps` read as the native stack's components: the same names (`balance-2` for
`customer-balance-balance-2`), addresses and order, with the one-shot jobs told apart."""

from __future__ import annotations

from pydantic import BaseModel, TypeAdapter

from devkit.stack.config import StackConfig
from devkit.stack.report import ComponentStatus
from devkit.stack.state import replica_name
from service import names

JOBS = ("dynamodb-volume", "bootstrap")
"""One-shot services (`restart: "no"`): reported apart from the components."""
REPLICATED = "balance"


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
        addresses = {"nats": config.nats_url, "dynamodb": config.dynamodb_endpoint}
        return ComponentStatus(
            name=self.component,
            pid=None,
            address=addresses.get(
                self.Service, f"{names.REQUEST_SUBJECT} (queue {names.QUEUE_GROUP})"
            ),
            running=self.running,
            healthy=self.running and self.Health in ("", "healthy", None),
            log=None,
        )


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
