"""`invoke status`: each component with pid, address and health, as a record and as a table."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from devkit.stack.config import StackConfig
from devkit.stack.state import Component, Mode


class ComponentStatus(BaseModel):
    name: str
    pid: int | None
    address: str | None
    running: bool
    healthy: bool
    log: str | None
    error: str | None = None
    """Why the status could not be read (docker mode, when Compose fails)."""

    @classmethod
    def of(cls, component: Component) -> ComponentStatus:
        running = component.running()
        return cls(
            name=component.name,
            pid=component.pid if running else None,
            address=component.address,
            running=running,
            healthy=running and component.healthy(),
            log=component.log,
        )


class StackStatus(BaseModel):
    mode: Mode | None
    nats_url: str
    dynamodb_endpoint: str
    table: str
    account: str
    creds: dict[str, str]
    components: list[ComponentStatus]

    @classmethod
    def of(
        cls, config: StackConfig, mode: Mode | None, components: list[ComponentStatus]
    ) -> StackStatus:
        return cls(
            mode=mode,
            nats_url=config.nats_url,
            dynamodb_endpoint=config.dynamodb_endpoint,
            table=config.table,
            account=config.account,
            creds={"service": str(config.service_creds), "client": str(config.client_creds)},
            components=components,
        )

    def document(self) -> dict[str, Any]:
        """`invoke status --json`: a component carries `error` only when there is one."""
        document = self.model_dump(mode="json", exclude={"components"})
        document["components"] = [
            c.model_dump(mode="json", exclude=None if c.error else {"error"})
            for c in self.components
        ]
        return document


def render_status(status: StackStatus) -> str:
    if not status.components:
        return "The local stack is not running. Start it with: invoke up"
    lines = [
        f"mode: {status.mode}   table: {status.table}",
        f"{'component':<12} {'pid':>8}  {'health':<9} address",
    ]
    for c in status.components:
        health = "healthy" if c.healthy else ("running" if c.running else "stopped")
        lines.append(f"{c.name:<12} {c.pid or '-':>8}  {health:<9} {c.address or ''}")
    return "\n".join(lines)
