"""Service replicas as real `python -m service` processes, with only the variables a test gives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.health import Heartbeat
from tests.support.commands import ROOT, clean_environment
from tests.support.servers import NatsServer


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    health_file: Path
    env: dict[str, str] = field(repr=False)

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def events_named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.log_events() if e.get("event") == event]

    def phase(self) -> str | None:
        """The phase its heartbeat reports (starting, serving, stopping), None before one."""
        try:
            return Heartbeat.model_validate_json(self.health_file.read_bytes()).phase
        except (OSError, ValueError):
            return None

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until it serves (its heartbeat says so), or fail with its log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.phase() == "serving":
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"service exited with {self.process.returncode}:\n{self.log_path.read_text()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"service not ready in {timeout_s} s:\n{self.log_path.read_text()}")

    def terminate(self, timeout_s: float = 30.0) -> int:
        self.process.terminate()
        return self.process.wait(timeout=timeout_s)


ServiceFactory = Callable[..., ServiceProcess]
"""`start_service(wait=True, **VARIABLES)`: one more replica against the test's servers."""


def launch_service(workdir: Path, name: str, env: dict[str, str]) -> ServiceProcess:
    """`python -m service` as a real process, with only the variables the test gives it."""
    health_file = workdir / f"{name}.health"
    log_path = workdir / f"{name}.log"
    full_env = {
        **clean_environment(),
        "HEALTH_FILE": str(health_file),
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service"],
            cwd=ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(process, log_path, health_file, full_env)


def kill_all(services: list[ServiceProcess]) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


@dataclass
class RunningService:
    """One nats-server, one table and one replica shared by a module's read-only tests."""

    nats: NatsServer
    table: str
    service: ServiceProcess
