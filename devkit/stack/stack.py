"""One handle on a stack directory for the length of a command: the configuration it runs with,
its state (loaded once, saved by one method) and the one event loop the command uses."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from devkit.stack.config import StackConfig
from devkit.stack.servers import CHOSEN_BY_SERVER
from devkit.stack.state import HOST_TWINS, Recorded, StackState, replica_name

T = TypeVar("T")


def record(config: StackConfig) -> Recorded:
    return Recorded(
        nats_port=config.nats_port,
        nats_monitor_port=config.nats_monitor_port,
        nats_cluster_port=config.nats_cluster_port,
        nats_2_port=config.nats_2_port,
        nats_2_monitor_port=config.nats_2_monitor_port,
        nats_2_cluster_port=config.nats_2_cluster_port,
        nats_3_port=config.nats_3_port,
        nats_3_monitor_port=config.nats_3_monitor_port,
        nats_3_cluster_port=config.nats_3_cluster_port,
        nats_nodes=config.nats_nodes,
        nats_3_route_via=config.nats_3_route_via,
        dynamodb_port=config.dynamodb_port,
        gateway_port=config.gateway_port,
        controlplane_port=config.controlplane_port,
        table=config.table,
        account=config.account,
        project=config.project,
    )


def recorded_config(config: StackConfig, state: StackState) -> StackConfig:
    """A running stack keeps the ports (table, account, project) it was started with."""
    if state.active and state.recorded is not None:
        return config.model_copy(update=state.recorded.model_dump())
    return config


def differences(config: StackConfig, state: StackState) -> list[str]:
    """Variables the environment sets to something else than the running stack uses (a port
    of 0 asks for any port, so the one the running stack took is no difference)."""
    if not state.active or state.recorded is None:
        return []
    asked = config.model_dump(include=config.model_fields_set)
    return [
        f"{_ASKED_BY.get(name, 'STACK_' + name.upper())}={asked[name]}"
        f" (the running stack has {'none' if running == '' else running})"
        for name, running in state.recorded.model_dump().items()
        if name in asked and asked[name] not in (running, _ANY_PORT.get(name))
    ]


_ASKED_BY = {"nats_nodes": "--nodes/STACK_NATS_NODES"}
"""What asks for a setting that a flag of `up` sets too (`up --nodes 3`), as the message says it."""

_ANY_PORT = {name: CHOSEN_BY_SERVER for name in Recorded.model_fields if name.endswith("_port")}


@dataclass(frozen=True)
class Wanted:
    """What `up` converges on, computed once: every component's name."""

    replicas: int
    nats_names: tuple[str, ...] = ("nats",)

    @property
    def replica_names(self) -> list[str]:
        return [replica_name(i) for i in range(1, self.replicas + 1)]

    @property
    def names(self) -> set[str]:
        return {*self.nats_names, "dynamodb", *HOST_TWINS, *self.replica_names}


@dataclass
class Stack:
    config: StackConfig
    """The configuration the stack runs with: the recorded one while it runs."""
    state: StackState
    asked: StackConfig
    """The environment's configuration: a port of 0 in it asks for any port, every time."""
    other_configuration: list[str] = field(default_factory=list)
    """What the environment asks that differs from the running stack (`up` refuses it)."""
    runner: asyncio.Runner = field(default_factory=asyncio.Runner)

    @classmethod
    @contextmanager
    def opened(cls, config: StackConfig) -> Iterator[Stack]:
        state = StackState.load(config.state_path)
        stack = cls(recorded_config(config, state), state, config, differences(config, state))
        with stack.runner:
            yield stack

    @property
    def active(self) -> bool:
        return self.state.active

    def save(self) -> None:
        """The one place the state is written; it records the configuration the stack runs
        with, which every later task then uses."""
        self.state.recorded = record(self.config)
        self.state.save(self.config.state_path)

    def took(self, name: str, ports: dict[str, int], addresses: dict[str, str]) -> None:
        """Server `name` listens on `ports` (the ones it chose, when asked for 0): the stack
        runs with them from now on, and its record and the state's say so."""
        component = self.state.components[name]
        self.state.components[name] = component.model_copy(update=addresses)
        self.runs_on(ports)

    def runs_on(self, ports: dict[str, int]) -> None:
        """The stack's servers listen on `ports` from now on; saved."""
        self.config = self.config.model_copy(update=ports)
        self.save()

    def forget(self) -> None:
        self.config.state_path.unlink(missing_ok=True)
        self.state = StackState()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The command's one event loop (a readiness poll does not start one per try)."""
        return self.runner.run(coroutine)
