"""The native backend: nats-server, moto, the twins and the replicas as plain processes.

Starts only what does not run, each recorded before it starts; on a failure it stops what it
started, so a failed `up` leaves nothing behind (an interrupted one leaves what it says).
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from devkit.auth.security import RouteCredentials, ensure_security
from devkit.stack.backend import Change, Stopped
from devkit.stack.cluster import ClusterSettings, reroute_nats
from devkit.stack.config import NatsNode, StackConfig, is_nats_node, service_default
from devkit.stack.hosted import (
    Launching,
    Ready,
    launch_all,
    start_all,
    start_recorded,
    stop_components,
    undo,
)
from devkit.stack.logfiles import show_files
from devkit.stack.processes import launch
from devkit.stack.readiness import (
    wait_for_account_jetstream,
    wait_for_cluster,
    wait_until_answering,
    wait_until_healthy,
)
from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.servers import (
    CHOSEN_BY_SERVER,
    MOTO_MODULE,
    SINGLE_SERVER_NAME,
    LaunchedMoto,
    LaunchedNats,
    launch_moto,
    launch_nats,
)
from devkit.stack.stack import Stack, Wanted
from devkit.stack.state import HOST_TWINS, Component
from devkit.stack.twins import launching_twins
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
        nodes = [n for n in config.nats_nodes_list if n.name not in running]
        nats: list[Launching] = [
            (_nats(config, node), partial(_launch_nats, stack, node.index)) for node in nodes
        ]
        dynamodb: list[Launching] = []
        if "dynamodb" not in running:
            dynamodb.append((_dynamodb(config), partial(_launch_dynamodb, stack)))
        try:
            _start_servers(stack, nats, dynamodb, change)
            config = stack.config  # with the ports the servers took, when asked for 0
            if config.clustered and nodes:
                _reroute(stack)
                wait_for_cluster(config)
                stack.run(wait_for_account_jetstream(config))
            stack.run(bootstrap(config.service_settings()))
            fresh = replicas_start_afresh(
                nats_restarted=len(nodes) == config.nats_nodes,
                dynamodb_restarted="dynamodb" not in running,
            )
            leaving = [r for r in state.replicas() if fresh or r.name in surplus]
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
        nats = [c for name, c in state.components.items() if is_nats_node(name)]
        stopped += stop_components(nats)
        return Stopped(stopped)

    def components(self, stack: Stack) -> tuple[list[ComponentStatus], list[JobStatus]]:
        return [ComponentStatus.of(c) for c in stack.state.components.values()], []

    def show_logs(self, stack: Stack, component: str | None, lines: int, *, follow: bool) -> None:
        show_files(stack.state, component, lines, follow=follow)


def _start_servers(
    stack: Stack, nats: list[Launching], dynamodb: list[Launching], change: Change
) -> None:
    """nats-server and moto launched together, the twins as soon as nats' port is known (it is
    on their command line), and each awaited only once what need not wait for it is launched:
    moto's and the twins' Python starts overlap. A cluster's nodes start one after another, as
    each is given the route ports of those before it."""
    if stack.config.clustered:
        for intent, launch in nats:
            start_recorded(stack, intent, launch, change)()
        nats_ready: list[Ready] = []
    else:
        nats_ready = launch_all(stack, nats, change)
    others = launch_all(stack, dynamodb, change)
    for ready in nats_ready:
        ready()
    others += launch_all(stack, launching_twins(stack), change)
    for ready in others:
        ready()


def drain_budget(config: StackConfig) -> float:
    """How long a replica may take to stop: its DRAIN_TIMEOUT_S, and a margin."""
    given = dict(config.service_overrides).get("DRAIN_TIMEOUT_S")
    try:
        budget = float(given or service_default("DRAIN_TIMEOUT_S"))
    except ValueError:
        budget = float(service_default("DRAIN_TIMEOUT_S"))
    return budget + DRAIN_MARGIN_S


def replicas_start_afresh(*, nats_restarted: bool, dynamodb_restarted: bool) -> bool:
    """Whether `up` restarts the running replicas: only when every nats-server or moto was
    restarted.

    A replica's connections to a restarted moto, or to a nats that was the only one (a single
    server, or a whole cluster restarted), are dead, and it is started afresh. On a cluster that
    lost some nodes, the replicas were given the server list and have failed over to a node that
    kept running, and the stream and bucket kept a leader (R3 keeps a quorum with one node
    down): restarting them would only drop requests that are being answered, and would hide the
    failover the cluster exists to rehearse. The restarted node catches up on its own.
    """
    return nats_restarted or dynamodb_restarted


def _number(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def nats_workdir(config: StackConfig, node: NatsNode) -> Path:
    """A single server's is `nats/`, as always; a cluster's nodes keep theirs apart from it
    (`cluster/nats`, `cluster/nats-2`, ...), so a single server's standalone JetStream data is
    never read by a cluster node, nor the other way round."""
    if not config.clustered:
        return config.root / "nats"
    return config.root / "cluster" / node.name


def _nats(config: StackConfig, node: NatsNode) -> Component:
    return Component(
        name=node.name,
        marker="nats-server",
        log=str(nats_workdir(config, node) / "nats.log"),
        address=node.url,
        address_monitor=node.monitor_url,
        address_cluster=node.route_url if config.clustered else None,
    )


def cluster_settings(
    config: StackConfig, node: NatsNode, credentials: RouteCredentials
) -> ClusterSettings:
    """Routes to every other node whose route port is known (0: chosen, not yet taken); a node
    reached through a proxy (`STACK_NATS_3_ROUTE_VIA`) advertises it and dials none, and the
    others route to the proxy from their start (its address is known before the node's port)."""
    via = config.route_via(node)
    routes = tuple(
        config.route_to(other)
        for other in config.nats_nodes_list
        if other.index != node.index
        and (other.cluster_port != CHOSEN_BY_SERVER or config.route_via(other))
        and not via
    )
    return ClusterSettings(
        port=node.cluster_port, routes=routes, credentials=credentials, advertise=via
    )


def _reroute(stack: Stack) -> None:
    """Every node routes to every other, now that all their route ports are known."""
    config = stack.config
    credentials = ensure_security(
        config.root, account=config.account, clustered=config.clustered
    ).route
    for node in stack.config.nats_nodes_list:
        component = stack.state.components[node.name]
        assert component.pid is not None  # started just before
        config_path = nats_workdir(stack.config, node) / "nats.conf"
        settings = cluster_settings(stack.config, node, credentials)
        reroute_nats(config_path, settings, component.pid)


def _launch_nats(stack: Stack, index: int) -> Ready:
    """Launched with the stack's configuration as it is now: the route ports the nodes before
    it took, or those the state recorded (a restarted node); its wait records the ports it
    took."""
    config = stack.config
    node = config.nats_node(index)
    material = ensure_security(config.root, account=config.account, clustered=config.clustered)
    serving = launch_nats(
        workdir=nats_workdir(config, node),
        port=node.port,
        monitor_port=node.monitor_port,
        security=material,
        server_name=node.name if config.clustered else SINGLE_SERVER_NAME,
        cluster=cluster_settings(config, node, material.route) if config.clustered else None,
    )
    return partial(_nats_serving, stack, index, serving)


def _nats_serving(stack: Stack, index: int, serving: Callable[[], LaunchedNats]) -> None:
    nats = serving()
    config = stack.config
    node = config.nats_node(index)
    port_field, monitor_field, cluster_field = node.port_fields
    ports = {port_field: nats.port, monitor_field: nats.monitor_port}
    if nats.cluster_port is not None:
        ports[cluster_field] = nats.cluster_port
    took = config.model_copy(update=ports).nats_node(index)
    addresses = {"address": took.url, "address_monitor": took.monitor_url}
    if config.clustered:
        addresses["address_cluster"] = took.route_url
    stack.took(node.name, ports, addresses)


def _dynamodb(config: StackConfig) -> Component:
    return Component(
        name="dynamodb",
        marker=MOTO_MODULE,
        log=str(config.root / "dynamodb" / "dynamodb.log"),
        address=config.dynamodb_endpoint,
    )


def _launch_dynamodb(stack: Stack) -> Ready:
    config = stack.config
    return partial(
        _dynamodb_answering,
        stack,
        launch_moto(workdir=config.root / "dynamodb", port=config.dynamodb_port),
    )


def _dynamodb_answering(stack: Stack, answering: Callable[[], LaunchedMoto]) -> None:
    moto = answering()
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
