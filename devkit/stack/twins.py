"""The local twins of what Synadia Cloud serves around NATS (the HTTP gateway and the
control-plane API): host processes in both modes, reaching NATS on its published port."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from devkit.auth.security import ensure_controlplane_token, ensure_gateway_tokens
from devkit.port_file import port_in
from devkit.stack.config import StackConfig
from devkit.stack.hosted import Launching, Planned, Ready
from devkit.stack.processes import ensure_free, launch, wait_http
from devkit.stack.servers import CHOSEN_BY_SERVER, read_text, stopped_on_failure, wait_for_ports
from devkit.stack.stack import Stack
from devkit.stack.state import CONTROLPLANE, GATEWAY, HOST_TWINS, Component


@dataclass(frozen=True)
class TwinSpec:
    title: str
    module: str
    port: int
    url: str
    port_field: str
    """The StackConfig field holding its port."""


def spec(config: StackConfig, name: str) -> TwinSpec:
    if name == GATEWAY:
        return TwinSpec(
            "HTTP gateway",
            "devkit.gateway",
            config.gateway_port,
            config.gateway_url,
            "gateway_port",
        )
    if name == CONTROLPLANE:
        return TwinSpec(
            "control-plane twin",
            "devkit.controlplane_twin",
            config.controlplane_port,
            config.controlplane_url,
            "controlplane_port",
        )
    raise ValueError(f"no twin named {name}")


def planned_twins(stack: Stack) -> list[Planned]:
    """The twins that do not run, in the order they start, each started before the next."""
    return [(intent, partial(_start, launch)) for intent, launch in launching_twins(stack)]


def _start(launch: Callable[[], Ready]) -> None:
    launch()()


def launching_twins(stack: Stack) -> list[Launching]:
    """The twins that do not run, in the order they launch; each launch returns its wait, so
    both twins' Python starts overlap each other's (and moto's)."""
    planned: list[Launching] = []
    for name in HOST_TWINS:
        running = stack.state.components.get(name)
        if running is None or not running.running():
            twin = spec(stack.config, name)
            intent = Component(
                name=name,
                marker=f"-m {twin.module}",
                log=str(stack.config.logs_dir / f"{name}.log"),
                address=twin.url,
            )
            planned.append((intent, partial(_launch_twin, stack, name, Path(intent.log))))
    return planned


def _launch_twin(stack: Stack, name: str, log_path: Path) -> Ready:
    """Launched with the stack's configuration as it is now: nats' port is the one it took.
    The wait returned reads the port the twin took and its /healthz (a failed or interrupted
    wait stops it)."""
    config = stack.config
    twin = spec(config, name)
    if twin.port != CHOSEN_BY_SERVER:
        ensure_free(twin.port, twin.title)
    port_file = config.root / "run" / f"{name}.port"
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.unlink(missing_ok=True)  # an earlier run's
    ensure_gateway_tokens(config.root)  # a stack started before the twins existed has none
    ensure_controlplane_token(config.root)
    launched = launch(
        [
            sys.executable,
            "-m",
            twin.module,
            "--stack-dir",
            str(config.root.resolve()),
            "--nats-url",
            config.nats_url,
            "--port",
            str(twin.port),
            "--port-file",
            str(port_file),
        ],
        log_path=log_path,
        own_log=True,
    )

    def serving() -> None:
        with stopped_on_failure(launched):
            taken = wait_for_ports(
                lambda: port_in(read_text(port_file)),
                name=twin.title,
                process=launched.process,
                log_path=log_path,
            )
            url = spec(stack.config.model_copy(update={twin.port_field: taken}), name).url
            stack.took(name, {twin.port_field: taken}, {"address": url})
            wait_http(
                f"{url}/healthz", name=twin.title, process=launched.process, log_path=log_path
            )

    return serving
