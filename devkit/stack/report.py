"""`invoke status`: each component with pid, address and health, as a record and as a table."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from devkit.stack.config import StackConfig
from devkit.stack.ownership import OwnedProcess
from devkit.stack.replication import Replication
from devkit.stack.state import REPLICA_PREFIX, SLOW, Component, Mode
from devkit.stack.stream import StreamUsage
from service import names


class ComponentStatus(BaseModel):
    name: str
    pid: int | None
    address: str | None
    running: bool
    healthy: bool
    log: str | None
    error: str | None = None
    """Why the status could not be read (docker mode, when Compose fails)."""
    problem: str | None = None
    """Why a running component is not healthy (a replica that cannot receive requests)."""
    route: str | None = None
    """A node of the NATS cluster: its route address (the other nodes connect to it)."""

    @classmethod
    def of(cls, component: Component) -> ComponentStatus:
        running = component.running()
        problem = component.problem() if running else None
        return cls(
            name=component.name,
            pid=component.pid if running else None,
            address=component.address,
            route=component.address_cluster,
            running=running,
            healthy=running and problem is None,
            log=component.log,
            problem=problem,
        )


class JobStatus(BaseModel):
    """A one-shot job of the docker mode (the volume's chown, the bootstrap)."""

    name: str
    state: Literal["running", "succeeded", "failed"]
    exit_code: int | None = None
    last_line: str | None = None
    """The job's last log line, when it failed."""


class OrphanStatus(BaseModel):
    """A process of this stack's directory that its state does not name (`down` stops it)."""

    pid: int
    command: str

    @classmethod
    def of(cls, process: OwnedProcess) -> OrphanStatus:
        return cls(pid=process.pid, command=process.command)


class StackStatus(BaseModel):
    mode: Mode | None
    nats_url: str
    dynamodb_endpoint: str
    table: str
    account: str
    creds: dict[str, str]
    components: list[ComponentStatus]
    jobs: list[JobStatus] = []
    stream: StreamUsage | None = None
    """The event stream's fill, when it could be read."""
    orphans: list[OrphanStatus] = []
    nats_nodes: int = 1
    replication: list[Replication] = []
    """On the cluster: the stream's and the bucket's leader and followers."""

    @classmethod
    def of(
        cls,
        config: StackConfig,
        mode: Mode | None,
        components: list[ComponentStatus],
        jobs: list[JobStatus] | None = None,
        stream: StreamUsage | None = None,
        orphans: list[OrphanStatus] | None = None,
        replication: list[Replication] | None = None,
    ) -> StackStatus:
        return cls(
            mode=mode,
            nats_url=config.nats_url,
            dynamodb_endpoint=config.dynamodb_endpoint,
            table=config.table,
            account=config.account,
            creds={"service": str(config.service_creds), "client": str(config.client_creds)},
            components=components,
            jobs=jobs or [],
            stream=stream,
            orphans=orphans or [],
            nats_nodes=config.nats_nodes,
            replication=replication or [],
        )

    @property
    def running(self) -> bool:
        return bool(self.components) or bool(self.orphans)

    def problems(self) -> list[str]:
        """What makes the stack degraded: a component not healthy, a one-shot job that failed."""
        found = [_problem(c) for c in self.components if not c.healthy]
        if self.orphans:
            found.append(f"{_orphans(self.orphans)} the state does not name (`invoke down` stops)")
        found += [f"job {j.name} failed" for j in self.jobs if j.state == "failed"]
        found += [
            f"{r.kind} {r.name} has not every replica current"
            for r in self.replication
            if not r.all_current
        ]
        return found

    def document(self) -> dict[str, Any]:
        """`invoke status --json`: a component carries `error` (`problem`, `route`) only when
        there is one; the document carries `orphans` only when there are some, `nats_nodes` and
        `replication` only on the cluster (a single server's document is as it always was)."""
        omitted = {
            *(() if self.orphans else ("orphans",)),
            *(() if self.nats_nodes > 1 else ("nats_nodes", "replication")),
        }
        document = self.model_dump(mode="json", exclude={"components", *omitted})
        document["components"] = [
            c.model_dump(
                mode="json",
                exclude={f for f in ("error", "problem", "route") if getattr(c, f) is None},
            )
            for c in self.components
        ]
        return document


def _problem(component: ComponentStatus) -> str:
    if not component.running:
        return f"{component.name} stopped"
    if component.problem and component.problem.startswith(SLOW):
        return f"{component.name} {component.problem}"
    return f"{component.name} running but not serving" + (
        f" ({component.problem})" if component.problem else ""
    )


def _orphans(orphans: list[OrphanStatus]) -> str:
    return f"{len(orphans)} process{'es' if len(orphans) > 1 else ''} of the stack" + (
        f" (pid {', '.join(str(o.pid) for o in orphans)})"
    )


def render_status(status: StackStatus) -> str:
    if not status.components:
        if status.orphans:
            return (
                f"The local stack is not running, but {_orphans(status.orphans)} still"
                " run, named by no state: stop them with: invoke down\n"
                + "\n".join(f"  {o.pid}  {o.command}" for o in status.orphans)
            )
        return "The local stack is not running. Start it with: invoke up"
    rows = [("component", "pid", "health", "address")]
    for c in status.components:
        health = "healthy" if c.healthy else ("running" if c.running else "stopped")
        address = c.address or c.error or ""
        rows.append(
            (c.name, str(c.pid or "-"), health, address + (f"  route {c.route}" if c.route else ""))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"mode: {status.mode}   table: {status.table}"]
    lines += [
        f"{name:<{widths[0]}}  {pid:>{widths[1]}}  {health:<{widths[2]}}  {address}".rstrip()
        for name, pid, health, address in rows
    ]
    lines += [f"{c.name}: {c.problem}" for c in status.components if c.problem]
    lines += [f"orphan {o.pid}: {o.command} (`invoke down` stops it)" for o in status.orphans]
    if status.stream is not None:
        lines.append(status.stream.describe())
    lines += [r.describe() for r in status.replication]
    for job in status.jobs:
        line = f"job {job.name}: {job.state}"
        if job.state == "failed":
            line += f" (exit code {job.exit_code}): {job.last_line}"
        lines.append(line)
    return "\n".join(lines)


def render_up(status: StackStatus, started: list[str], stopped: list[str], reason: str) -> str:
    """What `invoke up` says: the mode and why, what changed (or that nothing did), the table."""
    lines = [f"Mode: {status.mode} ({reason})"]
    if not started and not stopped:
        replicas = sum(1 for c in status.components if c.name.startswith(REPLICA_PREFIX))
        lines.append(f"The local stack is already running ({replicas} replicas); nothing changed.")
    if started:
        lines.append(f"Started: {', '.join(started)}")
    if stopped:
        lines.append(f"Stopped: {', '.join(stopped)}")
    lines.append(render_status(status))
    lines.append(
        "\nTry it:  invoke req 678\n"
        "Or with the NATS CLI:  invoke context --select local-client && "
        f'nats req {names.REQUEST_SUBJECT} \'{{"client_id":"678"}}\''
    )
    return "\n".join(lines)
