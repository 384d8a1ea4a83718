"""The native stack's servers as plain processes: nats-server and the DynamoDB emulator (moto).

Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePath

from devkit.auth.security import SecurityMaterial
from devkit.stack.processes import (
    Launched,
    ensure_free,
    find_binary,
    launch,
    wait_http,
)
from service import names


def nats_config(
    *,
    port: int,
    monitor_port: int,
    data_dir: PurePath,
    security: SecurityMaterial | None = None,
    host: str = names.LOCAL_HOST,
    log_file: PurePath | None = None,
) -> str:
    """JetStream keeps its data in `data_dir/jetstream`, the account resolver in `data_dir/jwt`;
    without `security` the server asks for no authentication.

    `host` stays 127.0.0.1 on a laptop; inside a container it is 0.0.0.0, and Compose publishes
    the port on 127.0.0.1 only. With `log_file` (native) the server rotates its own log at the
    same bound as every other component's; in a container it logs to stdout.
    """
    auth = "" if security is None else security.server_config(data_dir / "jwt")
    if log_file is not None:
        auth += (
            f'logfile: "{log_file}"\n'
            f"logfile_size_limit: {names.LOG_FILE_MAX_BYTES}\n"
            f"logfile_max_num: {names.LOG_FILE_BACKUPS + 1}\n"
        )
    return (
        f"server_name: local\n"
        f"listen: {host}:{port}\n"
        f"http: {host}:{monitor_port}\n"
        f"jetstream {{\n"
        f'  store_dir: "{data_dir / "jetstream"}"\n'
        f"  max_memory_store: 256MB\n"
        f"  max_file_store: 1GB\n"
        f"}}\n"
        f"{auth}"
    )


def start_nats(
    *, workdir: Path, port: int, monitor_port: int, security: SecurityMaterial | None = None
) -> Launched:
    for used in (port, monitor_port):
        ensure_free(used, "nats-server")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "nats.conf"
    config.write_text(
        nats_config(
            port=port,
            monitor_port=monitor_port,
            data_dir=workdir,
            security=security,
            log_file=workdir / "nats.log",
        )
    )
    launched = launch(
        [str(find_binary("nats-server")), "-c", str(config)], log_path=workdir / "nats.log"
    )
    wait_http(
        f"http://{names.LOCAL_HOST}:{monitor_port}/healthz?js-enabled-only=true",
        name="nats-server",
        process=launched.process,
        log_path=workdir / "nats.log",
    )
    return launched


MOTO_MODULE = "devkit.stack.moto_emulator"
"""moto's server without its memory leak; also what its command line holds (a pid's check)."""


def start_moto(*, workdir: Path, port: int) -> Launched:
    ensure_free(port, "DynamoDB emulator")
    log_path = workdir / "dynamodb.log"
    launched = launch(
        [sys.executable, "-m", MOTO_MODULE, "-H", names.LOCAL_HOST, "-p", str(port)],
        log_path=log_path,
        own_log=True,
    )
    wait_http(
        f"http://{names.LOCAL_HOST}:{port}/moto-api/",
        name="DynamoDB emulator (moto)",
        process=launched.process,
        log_path=log_path,
    )
    return launched
