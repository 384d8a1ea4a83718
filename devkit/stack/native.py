"""The native mode of the local stack: nats-server, moto and the replicas as plain processes.

Starts only what does not run; on any failure it stops what it started, so a failed `up`
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from dataclasses import dataclass, field

from devkit.auth.security import ensure_security
from devkit.stack.config import StackConfig
from devkit.stack.processes import launch, stop_process
from devkit.stack.readiness import wait_until_answering, wait_until_healthy
from devkit.stack.running import record
from devkit.stack.servers import MOTO_MODULE, start_moto, start_nats
from devkit.stack.state import HOST_TWINS, Component, StackState, replica_name
from devkit.stack.twins import start_host_twin
from service import names
from service.bootstrap import bootstrap


@dataclass(frozen=True)
class Change:
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    """Replicas stopped for good (a smaller count), not the ones restarted."""


def start(config: StackConfig, state: StackState, *, replicas: int, wait: bool) -> Change:
    """Converge on `replicas` replicas; an empty Change when everything asked for runs."""
    running = {name for name, c in state.components.items() if c.running()}
    wanted = {"nats", "dynamodb", *HOST_TWINS, *(replica_name(i) for i in range(1, replicas + 1))}
    surplus = {c.name for c in state.replicas()} - wanted
    if wanted <= running and not surplus:
        return Change()

    started: list[str] = []
    stopped: list[str] = []
    state.recorded, state.replica_count = record(config), replicas
    try:
        restart_replicas = False
        if "nats" not in running:
            state.components["nats"] = _start_nats(config)
            started.append("nats")
            restart_replicas = True
        if "dynamodb" not in running:
            state.components["dynamodb"] = _start_dynamodb(config)
            started.append("dynamodb")
            restart_replicas = True
        for twin in HOST_TWINS:
            if twin not in running:
                state.components[twin] = start_host_twin(config, twin)
                started.append(twin)
        state.save(config.state_path)
        asyncio.run(bootstrap(config.service_settings()))
        for replica in state.replicas():
            if restart_replicas or replica.name in surplus:
                stop_process(replica.pid)
                del state.components[replica.name]
                if replica.name in surplus:
                    stopped.append(replica.name)
        state.save(config.state_path)
        for index in range(1, replicas + 1):
            name = replica_name(index)
            if name not in state.components or not state.components[name].running():
                state.components[name] = _start_replica(config, name)
                started.append(name)
                state.save(config.state_path)
        if wait and started:
            wait_until_answering(config, state)
            wait_until_healthy(state)
    except BaseException:
        for name in reversed(started):
            component = state.components.pop(name, None)
            if component is not None:
                stop_process(component.pid)
        state.save(config.state_path)
        raise
    return Change(started, stopped)


def stop(state: StackState) -> list[str]:
    """Replicas first, then the emulator, then nats-server; only processes still ours."""
    order = [
        *state.replicas(),
        *(
            state.components[n]
            for n in (*reversed(HOST_TWINS), "dynamodb", "nats")
            if n in state.components
        ),
    ]
    stopped = []
    for component in order:
        if component.running():
            stop_process(component.pid)
            stopped.append(component.name)
    return stopped


def _start_nats(config: StackConfig) -> Component:
    material = ensure_security(config.root, account=config.account)
    workdir = config.root / "nats"
    launched = start_nats(
        workdir=workdir,
        port=config.nats_port,
        monitor_port=config.nats_monitor_port,
        security=material,
    )
    return Component(
        name="nats",
        pid=launched.pid,
        marker="nats-server",
        log=str(workdir / "nats.log"),
        address=config.nats_url,
        address_monitor=config.nats_monitor_url,
    )


def _start_dynamodb(config: StackConfig) -> Component:
    workdir = config.root / "dynamodb"
    launched = start_moto(workdir=workdir, port=config.dynamodb_port)
    return Component(
        name="dynamodb",
        pid=launched.pid,
        marker=MOTO_MODULE,
        log=str(workdir / "dynamodb.log"),
        address=config.dynamodb_endpoint,
    )


def _start_replica(config: StackConfig, name: str) -> Component:
    health_file = (config.root / "run" / f"{name}.health").resolve()
    health_file.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "AWS_", "DDB_"))},
        **config.service_environment(),
        # Exactly as on Fargate: the service user's .creds, base64, in one variable.
        "NATS_CREDENTIALS": base64.b64encode(config.service_creds.read_bytes()).decode(),
        "HEALTH_FILE": str(health_file),
    }
    log_path = config.logs_dir / f"{name}.log"
    launched = launch(
        [sys.executable, "-m", "service"], log_path=log_path, env=environment, own_log=True
    )
    return Component(
        name=name,
        pid=launched.pid,
        marker="-m service",
        log=str(log_path),
        address=f"{names.REQUEST_SUBJECT} (queue {names.QUEUE_GROUP})",
        health_file=str(health_file),
    )
