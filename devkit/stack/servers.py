"""The native stack's servers as plain processes: nats-server and the DynamoDB emulator (moto).

Everything binds to 127.0.0.1. Port 0 lets the server choose its own port, which it writes to a
file once it listens; the launch reads it back, so a caller (a test) never takes a port by
binding it and letting go, which another program can take in between.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TypeVar
from urllib.parse import urlsplit

from devkit.auth.private_files import write_private
from devkit.auth.security import SecurityMaterial
from devkit.port_file import port_in
from devkit.stack.cluster import ClusterSettings
from devkit.stack.processes import (
    Launched,
    ServerError,
    ensure_free,
    find_binary,
    launch,
    tail,
    wait_http,
)
from service import names

CHOSEN_BY_SERVER = 0
"""The port to ask for when any free one will do; the launch reports the one taken."""

PORT_TIMEOUT_S = 30.0

SINGLE_SERVER_NAME = "local"
"""A single nats-server's `server_name`; a cluster's nodes are named as their components."""

Found = TypeVar("Found")


@dataclass(frozen=True)
class LaunchedNats(Launched):
    """nats-server, with the ports it listens on (the ones it chose, when asked for 0)."""

    port: int
    monitor_port: int
    cluster_port: int | None = None
    """Its route port, on a cluster."""

    @property
    def url(self) -> str:
        return f"nats://{names.LOCAL_HOST}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.monitor_port}"


@dataclass(frozen=True)
class LaunchedMoto(Launched):
    """The DynamoDB emulator, with the port it listens on."""

    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.port}"


def nats_listen_port(port: int) -> int:
    """nats-server reads port 0 as its default (4222); its word for "choose one" is -1."""
    return -1 if port == CHOSEN_BY_SERVER else port


def nats_config(
    *,
    port: int,
    monitor_port: int,
    data_dir: PurePath,
    security: SecurityMaterial | None = None,
    host: str = names.LOCAL_HOST,
    log_file: PurePath | None = None,
    ports_dir: PurePath | None = None,
    server_name: str = SINGLE_SERVER_NAME,
    cluster: ClusterSettings | None = None,
) -> str:
    """JetStream keeps its data in `data_dir/jetstream`, the account resolver in `data_dir/jwt`;
    without `security` the server asks for no authentication.

    `host` stays 127.0.0.1 on a laptop; inside a container it is 0.0.0.0, and Compose publishes
    the port on 127.0.0.1 only. With `log_file` (native) the server rotates its own log at the
    same bound as every other component's; in a container it logs to stdout. A port of 0 is
    left to the server, which writes the ports it took to a file in `ports_dir`. With
    `cluster`, a node of a JetStream cluster (its own `server_name`, routes to the others).
    """
    auth = "" if security is None else security.server_config(data_dir / "jwt")
    if log_file is not None:
        auth += (
            f'logfile: "{log_file}"\n'
            f"logfile_size_limit: {names.LOG_FILE_MAX_BYTES}\n"
            f"logfile_max_num: {names.LOG_FILE_BACKUPS + 1}\n"
        )
    ports_file = "" if ports_dir is None else f'ports_file_dir: "{ports_dir}"\n'
    routes = "" if cluster is None else cluster.block(f"{host}:{nats_listen_port(cluster.port)}")
    return (
        f"server_name: {server_name}\n"
        f"listen: {host}:{nats_listen_port(port)}\n"
        f"http: {host}:{nats_listen_port(monitor_port)}\n"
        f"jetstream {{\n"
        f'  store_dir: "{data_dir / "jetstream"}"\n'
        f"  max_memory_store: 256MB\n"
        f"  max_file_store: 1GB\n"
        f"}}\n"
        f"{ports_file}"
        f"{routes}"
        f"{auth}"
    )


def nats_ports(ports_file: str) -> tuple[int, int] | None:
    """(client, monitor) from nats-server's ports file; None until it is whole.

    The server writes `{"nats": ["nats://host:port"], "monitoring": ["http://host:port"]}`
    (and `"cluster": [...]` on a cluster) without a rename, so a reader can meet it empty or
    cut short.
    """
    found = _listed_ports(ports_file, ("nats", "monitoring"))
    return None if found is None else (found[0], found[1])


def nats_cluster_ports(ports_file: str) -> tuple[int, int, int] | None:
    """(client, monitor, route) from a cluster node's ports file; None until it is whole."""
    found = _listed_ports(ports_file, ("nats", "monitoring", "cluster"))
    return None if found is None else (found[0], found[1], found[2])


def _listed_ports(ports_file: str, kinds: tuple[str, ...]) -> list[int] | None:
    try:
        listed = json.loads(ports_file)
        ports = [urlsplit(listed[kind][0]).port for kind in kinds]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if any(port is None for port in ports):
        return None
    return [port for port in ports if port is not None]


def wait_for_ports(
    read: Callable[[], Found | None],
    *,
    name: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float = PORT_TIMEOUT_S,
) -> Found:
    """What `read` finds once the server has written its ports, or the server's own failure."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = read()
        if found is not None:
            return found
        if process.poll() is not None:
            raise ServerError(
                f"{name} exited with code {process.returncode}; last lines of {log_path}:\n"
                f"{tail(log_path, 15)}"
            )
        time.sleep(0.05)
    raise ServerError(f"{name} did not report its ports within {timeout_s:g} s; see {log_path}")


@contextmanager
def stopped_on_failure(launched: Launched) -> Iterator[None]:
    """A server that fails to come up (or whose start is interrupted) is not left running."""
    try:
        yield
    except BaseException:
        launched.process.kill()
        launched.process.wait(timeout=10)
        raise


def read_text(path: Path) -> str:
    """A file's text, or "" while it does not exist yet."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def start_nats(
    *,
    workdir: Path,
    port: int = CHOSEN_BY_SERVER,
    monitor_port: int = CHOSEN_BY_SERVER,
    security: SecurityMaterial | None = None,
    server_name: str = SINGLE_SERVER_NAME,
    cluster: ClusterSettings | None = None,
) -> LaunchedNats:
    """Serving and healthy; with port 0 (the default) for either, on one it chose, read back.

    A node of a cluster is healthy here once its JetStream is enabled: the cluster's meta
    leader needs a quorum of nodes, which the caller starts next (`wait_for_cluster`)."""
    return launch_nats(
        workdir=workdir,
        port=port,
        monitor_port=monitor_port,
        security=security,
        server_name=server_name,
        cluster=cluster,
    )()


def launch_nats(
    *,
    workdir: Path,
    port: int = CHOSEN_BY_SERVER,
    monitor_port: int = CHOSEN_BY_SERVER,
    security: SecurityMaterial | None = None,
    server_name: str = SINGLE_SERVER_NAME,
    cluster: ClusterSettings | None = None,
) -> Callable[[], LaunchedNats]:
    """nats-server launched; the call returned waits until it serves (as `start_nats`), so
    other servers can start meanwhile. A failed or interrupted wait stops it."""
    used_ports = (port, monitor_port) if cluster is None else (port, monitor_port, cluster.port)
    for used in used_ports:
        if used != CHOSEN_BY_SERVER:
            ensure_free(used, "nats-server")
    workdir.mkdir(parents=True, exist_ok=True)
    ports_dir = workdir / "ports"
    ports_dir.mkdir(exist_ok=True)
    for stale in ports_dir.glob("*.ports"):  # left by a server that was killed
        stale.unlink()
    log_path = workdir / "nats.log"
    config = workdir / "nats.conf"
    write_private(  # a cluster's holds the routes' password
        config,
        nats_config(
            port=port,
            monitor_port=monitor_port,
            data_dir=workdir,
            security=security,
            log_file=log_path,
            ports_dir=ports_dir,
            server_name=server_name,
            cluster=cluster,
        ),
    )
    launched = launch([str(find_binary("nats-server")), "-c", str(config)], log_path=log_path)

    def read() -> tuple[int, int, int | None] | None:
        written = next(ports_dir.glob(f"*_{launched.pid}.ports"), None)  # <executable>_<pid>
        if written is None:
            return None
        if cluster is not None:
            return nats_cluster_ports(read_text(written))
        found = nats_ports(read_text(written))
        return None if found is None else (*found, None)

    def serving() -> LaunchedNats:
        with stopped_on_failure(launched):
            client, monitor, route = wait_for_ports(
                read,
                name="nats-server" if cluster is None else f"nats-server {server_name}",
                process=launched.process,
                log_path=log_path,
            )
            nats = LaunchedNats(
                launched.pid,
                launched.process,
                port=client,
                monitor_port=monitor,
                cluster_port=route,
            )
            wait_http(
                f"{nats.monitor_url}/healthz?js-enabled-only=true",
                name="nats-server",
                process=launched.process,
                log_path=log_path,
            )
        return nats

    return serving


MOTO_MODULE = "devkit.stack.moto_emulator"
"""moto's server without its memory leak; also what its command line holds (a pid's check)."""


def start_moto(*, workdir: Path, port: int = CHOSEN_BY_SERVER) -> LaunchedMoto:
    """Answering; with port 0 (the default) on a port it chose, read back."""
    return launch_moto(workdir=workdir, port=port)()


def launch_moto(*, workdir: Path, port: int = CHOSEN_BY_SERVER) -> Callable[[], LaunchedMoto]:
    """moto launched; the call returned waits until it answers (as `start_moto`), so its
    Python start overlaps the other servers'. A failed or interrupted wait stops it."""
    if port != CHOSEN_BY_SERVER:
        ensure_free(port, "DynamoDB emulator")
    log_path = workdir / "dynamodb.log"
    port_file = workdir / "dynamodb.port"
    port_file.unlink(missing_ok=True)  # an earlier run's
    launched = launch(
        [
            sys.executable,
            "-m",
            MOTO_MODULE,
            "-H",
            names.LOCAL_HOST,
            "-p",
            str(port),
            "--port-file",
            str(port_file),
        ],
        log_path=log_path,
        own_log=True,
    )

    def answering() -> LaunchedMoto:
        with stopped_on_failure(launched):
            taken = wait_for_ports(
                lambda: port_in(read_text(port_file)),
                name="DynamoDB emulator (moto)",
                process=launched.process,
                log_path=log_path,
            )
            moto = LaunchedMoto(launched.pid, launched.process, port=taken)
            wait_http(
                f"{moto.endpoint}/moto-api/",
                name="DynamoDB emulator (moto)",
                process=launched.process,
                log_path=log_path,
            )
        return moto

    return answering
