"""The native backend: nats-server, moto, the twins and the replicas as plain processes.

Starts only what does not run, each recorded before it starts; on a failure it stops what it
started, so a failed `up` leaves nothing behind (an interrupted one leaves what it says).
"""

from __future__ import annotations

import base64
import os
import sys
from functools import partial
from pathlib import Path

from devkit.auth.security import ensure_security
from devkit.stack.backend import Change, Stopped
from devkit.stack.config import StackConfig, service_default
from devkit.stack.hosted import Planned, start_all, stop_components, undo
from devkit.stack.logfiles import show_files
from devkit.stack.processes import launch
from devkit.stack.readiness import wait_until_answering, wait_until_healthy
from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.servers import MOTO_MODULE, start_moto, start_nats
from devkit.stack.stack import Stack, Wanted
from devkit.stack.state import HOST_TWINS, Component
from devkit.stack.twins import planned_twins
from service import names
from service.bootstrap import bootstrap

DRAIN_MARGIN_S = 2.0
"""A replica past its drain budget by this much is killed."""


class NativeBackend:
    def start(self, stack: Stack, wanted: Wanted, change: Change, *, wait: bool) -> None:
        state, config = stack.state, stack.config
        running = {name for name, c in state.components.items() if c.running()}
        surplus = {c.name for c in state.replicas()} - wanted.names
        if wanted.names <= running and not surplus:
            return
        servers: list[Planned] = []
        if "nats" not in running:
            servers.append((_nats(config), partial(_start_nats, stack)))
        if "dynamodb" not in running:
            servers.append((_dynamodb(config), partial(_start_dynamodb, stack)))
        try:
            start_all(stack, [*servers, *planned_twins(stack)], change)
            config = stack.config  # with the ports the servers took, when asked for 0
            stack.run(bootstrap(config.service_settings()))
            # Replicas of a restarted nats or moto hold dead connections: start them afresh.
            leaving = [r for r in state.replicas() if servers or r.name in surplus]
            stop_components(leaving, grace_s=drain_budget(config))
            for replica in leaving:
                del state.components[replica.name]
            change.stopped += sorted(surplus & {r.name for r in leaving}, key=_number)
            stack.save()
            replicas = [
                (_replica(config, name), partial(_start_replica, config, name))
                for name in wanted.replica_names
                if name not in state.components or not state.components[name].running()
            ]
            start_all(stack, replicas, change)
            if wait and change.started:
                stack.run(wait_until_answering(config, state))
                wait_until_healthy(state)
        except Exception:
            undo(stack, change)
            raise

    def stop(self, stack: Stack, *, wipe: bool) -> Stopped:
        """Replicas first (all draining at once), then the twins and moto, then nats-server."""
        state = stack.state
        stopped = stop_components(state.replicas(), grace_s=drain_budget(stack.config))
        others = (*HOST_TWINS, "dynamodb")
        stopped += stop_components(state.components[n] for n in others if n in state.components)
        if "nats" in state.components:
            stopped += stop_components([state.components["nats"]])
        return Stopped(stopped)

    def components(self, stack: Stack) -> tuple[list[ComponentStatus], list[JobStatus]]:
        return [ComponentStatus.of(c) for c in stack.state.components.values()], []

    def show_logs(self, stack: Stack, component: str | None, lines: int, *, follow: bool) -> None:
        show_files(stack.state, component, lines, follow=follow)


def drain_budget(config: StackConfig) -> float:
    """How long a replica may take to stop: its DRAIN_TIMEOUT_S, and a margin."""
    given = dict(config.service_overrides).get("DRAIN_TIMEOUT_S")
    try:
        budget = float(given or service_default("DRAIN_TIMEOUT_S"))
    except ValueError:
        budget = float(service_default("DRAIN_TIMEOUT_S"))
    return budget + DRAIN_MARGIN_S


def _number(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def _nats(config: StackConfig) -> Component:
    return Component(
        name="nats",
        marker="nats-server",
        log=str(config.root / "nats" / "nats.log"),
        address=config.nats_url,
        address_monitor=config.nats_monitor_url,
    )


def _start_nats(stack: Stack) -> None:
    config = stack.config
    material = ensure_security(config.root, account=config.account)
    nats = start_nats(
        workdir=config.root / "nats",
        port=config.nats_port,
        monitor_port=config.nats_monitor_port,
        security=material,
    )
    stack.took(
        "nats",
        {"nats_port": nats.port, "nats_monitor_port": nats.monitor_port},
        {"address": nats.url, "address_monitor": nats.monitor_url},
    )


def _dynamodb(config: StackConfig) -> Component:
    return Component(
        name="dynamodb",
        marker=MOTO_MODULE,
        log=str(config.root / "dynamodb" / "dynamodb.log"),
        address=config.dynamodb_endpoint,
    )


def _start_dynamodb(stack: Stack) -> None:
    config = stack.config
    moto = start_moto(workdir=config.root / "dynamodb", port=config.dynamodb_port)
    stack.took("dynamodb", {"dynamodb_port": moto.port}, {"address": moto.endpoint})


def _replica(config: StackConfig, name: str) -> Component:
    return Component(
        name=name,
        marker="-m service",
        log=str(config.logs_dir / f"{name}.log"),
        address=f"{names.REQUEST_SUBJECT} (queue {names.QUEUE_GROUP})",
        health_file=str(_health_file(config, name)),
    )


def _health_file(config: StackConfig, name: str) -> Path:
    return (config.root / "run" / f"{name}.health").resolve()


def _start_replica(config: StackConfig, name: str) -> None:
    health_file = _health_file(config, name)
    health_file.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "AWS_", "DDB_"))},
        **config.service_environment(),
        # Exactly as on Fargate: the service user's .creds, base64, in one variable.
        "NATS_CREDENTIALS": base64.b64encode(config.service_creds.read_bytes()).decode(),
        "HEALTH_FILE": str(health_file),
    }
    launch(
        [sys.executable, "-m", "service"],
        log_path=config.logs_dir / f"{name}.log",
        env=environment,
        own_log=True,
    )
