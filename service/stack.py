"""The Docker-free local stack: nats-server, the DynamoDB emulator and N service replicas.

State lives in `.stack/state.json` (git-ignored), so `down` stops exactly the processes `up`
started, by PID, after checking each PID still runs what we launched.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from service import compose, names
from service.bootstrap import bootstrap
from service.caller import CallError, Reply, call_once
from service.health import check_heartbeat
from service.security import creds_path, ensure_security
from service.servers import (
    ServerError,
    http_ok,
    launch,
    process_alive,
    process_matches,
    start_moto,
    start_nats,
    stop_process,
)
from service.settings import Settings

REPLICA_PREFIX = "balance-"
NATIVE = "native"
DOCKER = "docker"
AUTO = "auto"
MODES = (AUTO, NATIVE, DOCKER)
READY_TIMEOUT_S = 90.0


SERVICE_PREFIX = "STACK_SERVICE_"
ENVIRONMENT_OVERRIDES = {
    "STACK_DIR": "root",
    "STACK_NATS_PORT": "nats_port",
    "STACK_NATS_MONITOR_PORT": "nats_monitor_port",
    "STACK_DYNAMODB_PORT": "dynamodb_port",
    "STACK_TABLE": "table",
    "STACK_ACCOUNT": "account",
}


class StackError(Exception):
    """The stack cannot do what was asked; the message says what to do instead."""


@dataclass(frozen=True)
class StackConfig:
    root: Path = Path(".stack")
    nats_port: int = names.NATS_PORT
    nats_monitor_port: int = names.NATS_MONITOR_PORT
    dynamodb_port: int = names.DYNAMODB_PORT
    table: str = names.DEFAULT_TABLE
    seed_rows: int = 1000
    log_level: str = "INFO"
    account: str = names.APP_ACCOUNT_NAME
    service_overrides: tuple[tuple[str, str], ...] = ()
    """Extra service settings for the replicas, from `STACK_SERVICE_<VARIABLE>=value`."""

    @property
    def nats_url(self) -> str:
        return f"nats://{names.LOCAL_HOST}:{self.nats_port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://{names.LOCAL_HOST}:{self.dynamodb_port}"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def service_creds(self) -> Path:
        return creds_path(self.root, names.SERVICE_USER)

    @property
    def client_creds(self) -> Path:
        return creds_path(self.root, names.CLIENT_USER)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> StackConfig:
        """Defaults, overridable for a second stack or a busy port (`STACK_NATS_PORT=4333`)."""
        overrides: dict[str, Any] = {}
        for variable, attribute in ENVIRONMENT_OVERRIDES.items():
            value = environ.get(variable)
            if not value:
                continue
            if attribute == "root":
                overrides[attribute] = Path(value)
            elif attribute in ("table", "account"):
                overrides[attribute] = value
            else:
                try:
                    overrides[attribute] = int(value)
                except ValueError:
                    raise StackError(f"{variable} must be a port number, not {value!r}") from None
        overrides["service_overrides"] = tuple(
            sorted(
                (key.removeprefix(SERVICE_PREFIX), value)
                for key, value in environ.items()
                if key.startswith(SERVICE_PREFIX) and key != SERVICE_PREFIX
            )
        )
        return cls(**overrides)

    def service_environment(self) -> dict[str, str]:
        """What every replica and the bootstrap read: the same variables Fargate sets."""
        return {
            "NATS_URL": self.nats_url,
            "DDB_TABLE": self.table,
            "AWS_ENDPOINT_URL": self.dynamodb_endpoint,
            "AWS_REGION": names.DEFAULT_REGION,
            "SEED_ROWS": str(self.seed_rows),
            "LOG_LEVEL": self.log_level,
            **dict(self.service_overrides),
        }

    def settings(self) -> Settings:
        """Settings for tasks run from the host (bootstrap, seed): the service user's creds."""
        if not self.service_creds.exists():
            raise StackError(
                f"the local stack has never been started in {self.root} (no"
                f" {self.service_creds.name}); start it with: invoke up"
            )
        environment: dict[str, object] = {
            k.lower(): v for k, v in self.service_environment().items()
        }
        return Settings.model_validate({**environment, "nats_creds_file": self.service_creds})


@dataclass
class Component:
    name: str
    pid: int
    marker: str
    """A string the process's command line contains, to guard against recycled PIDs."""
    log: str
    address: str | None = None
    address_monitor: str | None = None
    health_file: str | None = None

    def running(self) -> bool:
        return process_alive(self.pid) and process_matches(self.pid, self.marker)

    def healthy(self) -> bool:
        if not self.running():
            return False
        if self.name == "nats":
            return http_ok(f"{self.address_monitor}/healthz")
        if self.name == "dynamodb":
            return http_ok(f"{self.address}/moto-api/")
        if self.health_file:
            return check_heartbeat(Path(self.health_file), now=time.time(), interval_s=2.0) is None
        return True


@dataclass
class StackState:
    mode: str = NATIVE
    components: dict[str, Component] = field(default_factory=dict)
    compose_env: str | None = None
    """Docker mode: the env file `docker compose` was started with."""

    @classmethod
    def load(cls, path: Path) -> StackState:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(
            mode=raw.get("mode", NATIVE),
            components={k: Component(**v) for k, v in raw.get("components", {}).items()},
            compose_env=raw.get("compose_env"),
        )

    @property
    def active(self) -> bool:
        return bool(self.components) or self.compose_env is not None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "mode": self.mode,
            "components": {k: asdict(v) for k, v in self.components.items()},
            "compose_env": self.compose_env,
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2))
        temporary.replace(path)

    def replicas(self) -> list[Component]:
        return sorted(
            (c for c in self.components.values() if c.name.startswith(REPLICA_PREFIX)),
            key=lambda c: int(c.name.removeprefix(REPLICA_PREFIX)),
        )


@dataclass(frozen=True)
class UpResult:
    already_running: bool
    started: list[str]
    status: dict[str, Any]


def resolve_mode(requested: str, state: StackState, engine: Callable[[], bool]) -> str:
    """auto: the mode already running, else docker when an engine answers, else native."""
    if requested not in MODES:
        raise StackError(f"--mode must be one of {', '.join(MODES)}, not {requested!r}")
    if state.active:
        if requested not in (AUTO, state.mode):
            raise StackError(
                f"the {state.mode} stack is running; stop it with `invoke down` before"
                f" starting it with --mode {requested}"
            )
        return state.mode
    if requested == AUTO:
        return DOCKER if engine() else NATIVE
    if requested == DOCKER and not engine():
        raise StackError(
            "--mode docker needs a Docker engine, and `docker info` got no answer;"
            " start Docker, or use --mode native (no Docker needed)"
        )
    return requested


def up(config: StackConfig, *, replicas: int = 1, mode: str = AUTO, wait: bool = True) -> UpResult:
    """Start what is not running; when everything already runs, change nothing."""
    if replicas < 1:
        raise StackError("--replicas must be at least 1")
    state = StackState.load(config.state_path)
    if resolve_mode(mode, state, compose.engine_available) == DOCKER:
        return _up_docker(config, replicas=replicas, wait=wait)
    running = {name for name, c in state.components.items() if c.running()}
    wanted = {"nats", "dynamodb", *(f"{REPLICA_PREFIX}{i}" for i in range(1, replicas + 1))}
    surplus = {c.name for c in state.replicas()} - wanted
    if wanted <= running and not surplus:
        return UpResult(already_running=True, started=[], status=status(config))

    started: list[str] = []
    try:
        restart_replicas = False
        if "nats" not in running:
            material = ensure_security(config.root, account=config.account)
            _start_nats(config, state, auth=material.server_config())
            started.append("nats")
            restart_replicas = True
        if "dynamodb" not in running:
            _start_dynamodb(config, state)
            started.append("dynamodb")
            restart_replicas = True
        state.save(config.state_path)
        asyncio.run(bootstrap(config.settings()))
        for replica in state.replicas():
            if restart_replicas or replica.name in surplus:
                stop_process(replica.pid)
                del state.components[replica.name]
        for index in range(1, replicas + 1):
            name = f"{REPLICA_PREFIX}{index}"
            if name not in state.components or not state.components[name].running():
                state.components[name] = _start_replica(config, name)
                started.append(name)
                state.save(config.state_path)
        wait_until_answering(config, state)
        wait_until_healthy(state)
    except BaseException:
        for name in reversed(started):
            component = state.components.pop(name, None)
            if component is not None:
                stop_process(component.pid)
        state.save(config.state_path)
        raise
    return UpResult(already_running=False, started=started, status=status(config))


def _up_docker(config: StackConfig, *, replicas: int, wait: bool) -> UpResult:
    """Compose converges by itself: `up` again with the same inputs changes nothing."""
    material = ensure_security(config.root, account=config.account)
    environment = compose.compose_environment(
        stack_dir=config.root,
        nats_port=config.nats_port,
        dynamodb_port=config.dynamodb_port,
        table=config.table,
        seed_rows=config.seed_rows,
        log_level=config.log_level,
        replicas=replicas,
        service_creds=config.service_creds,
    )
    env_file = compose.write_inputs(config.root, material, environment)
    state = StackState(mode=DOCKER, compose_env=str(env_file))
    state.save(config.state_path)
    compose.run_compose(env_file, "up", "--detach", "--build", "--wait")
    if wait:
        wait_until_answering(config, state)
    return UpResult(
        already_running=False,
        started=[f"docker compose ({replicas} replicas)"],
        status=status(config),
    )


def _start_nats(config: StackConfig, state: StackState, *, auth: str) -> None:
    workdir = config.root / "nats"
    launched = start_nats(
        workdir=workdir, port=config.nats_port, monitor_port=config.nats_monitor_port, auth=auth
    )
    state.components["nats"] = Component(
        name="nats",
        pid=launched.pid,
        marker="nats-server",
        log=str(workdir / "nats.log"),
        address=config.nats_url,
        address_monitor=f"http://{names.LOCAL_HOST}:{config.nats_monitor_port}",
    )


def _start_dynamodb(config: StackConfig, state: StackState) -> None:
    workdir = config.root / "dynamodb"
    launched = start_moto(workdir=workdir, port=config.dynamodb_port)
    state.components["dynamodb"] = Component(
        name="dynamodb",
        pid=launched.pid,
        marker="moto_server",
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
    launched = launch([sys.executable, "-m", "service"], log_path=log_path, env=environment)
    return Component(
        name=name,
        pid=launched.pid,
        marker="-m service",
        log=str(log_path),
        address=f"{names.REQUEST_SUBJECT} (queue {names.QUEUE_GROUP})",
        health_file=str(health_file),
    )


def wait_until_answering(config: StackConfig, state: StackState) -> Reply:
    """Ready means a real balance request was answered, not merely that processes exist."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_problem = "no reply yet"
    while time.monotonic() < deadline:
        for replica in state.replicas():
            if not replica.running():
                raise StackError(
                    f"{replica.name} exited during start-up; see {replica.log}:\n"
                    + tail(Path(replica.log), 15)
                )
        try:
            reply = asyncio.run(
                call_once(config.nats_url, "1", creds=config.client_creds, timeout_s=2.0)
            )
        except (CallError, OSError, TimeoutError) as error:
            last_problem = str(error)
        else:
            if reply.ok:
                return reply
            last_problem = reply.describe()
        time.sleep(0.25)
    raise StackError(f"the service did not answer within {READY_TIMEOUT_S:g} s: {last_problem}")


def wait_until_healthy(state: StackState, timeout_s: float = 30.0) -> None:
    """Every replica writes its first heartbeat moments after it starts serving."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sick = [r.name for r in state.replicas() if not r.healthy()]
        if not sick:
            return
        time.sleep(0.1)
    raise StackError(f"not healthy after {timeout_s:g} s: {', '.join(sick)}; see `invoke logs`")


def down(config: StackConfig, *, wipe: bool = False) -> list[str]:
    """Stop the processes `up` started (replicas first); keep data unless `wipe`."""
    state = StackState.load(config.state_path)
    stopped = []
    if state.compose_env is not None:
        compose.run_compose(Path(state.compose_env), "down", *(["--volumes"] if wipe else []))
        stopped.append("docker compose stack")
    order = [
        *state.replicas(),
        *(state.components[n] for n in ("dynamodb", "nats") if n in state.components),
    ]
    for component in order:
        if component.running():
            stop_process(component.pid)
            stopped.append(component.name)
    config.state_path.unlink(missing_ok=True)
    if wipe and config.root.exists():
        shutil.rmtree(config.root)
    return stopped


def status(config: StackConfig) -> dict[str, Any]:
    state = StackState.load(config.state_path)
    components = []
    if state.compose_env is not None:
        components = _docker_components(Path(state.compose_env))
    for component in state.components.values():
        running = component.running()
        components.append(
            {
                "name": component.name,
                "pid": component.pid if running else None,
                "address": component.address,
                "running": running,
                "healthy": running and component.healthy(),
                "log": component.log,
            }
        )
    return {
        "mode": state.mode if state.active else None,
        "nats_url": config.nats_url,
        "dynamodb_endpoint": config.dynamodb_endpoint,
        "table": config.table,
        "account": config.account,
        "creds": {"service": str(config.service_creds), "client": str(config.client_creds)},
        "components": components,
    }


def _docker_components(env_file: Path) -> list[dict[str, Any]]:
    """`docker compose ps` rows in the same shape as native components."""
    try:
        output = compose.run_compose(env_file, "ps", "--all", "--format", "json", capture=True)
    except compose.ComposeError as error:
        return [
            {
                "name": "docker",
                "pid": None,
                "address": None,
                "running": False,
                "healthy": False,
                "log": None,
                "error": str(error),
            }
        ]
    return [
        {
            "name": row.get("Name") or row.get("Service"),
            "pid": None,
            "address": ", ".join(
                f"{p.get('URL')}:{p.get('PublishedPort')}"
                for p in row.get("Publishers") or []
                if p.get("PublishedPort")
            )
            or None,
            "running": row.get("State") == "running",
            "healthy": row.get("State") == "running" and row.get("Health") in ("", "healthy", None),
            "log": None,
        }
        for row in compose_rows(output)
    ]


def compose_rows(output: str) -> list[dict[str, Any]]:
    """`ps --format json` prints an array (older Compose) or one object per line (newer)."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def docker_logs(config: StackConfig, component: str | None, lines: int) -> bool:
    """Print Compose logs when the docker stack runs; False in native mode."""
    state = StackState.load(config.state_path)
    if state.compose_env is None:
        return False
    args = ["logs", "--no-color", "--tail", str(lines), *([component] if component else [])]
    compose.run_compose(Path(state.compose_env), *args)
    return True


def render_status(report: dict[str, Any]) -> str:
    if not report["components"]:
        return "The local stack is not running. Start it with: invoke up"
    lines = [
        f"mode: {report['mode']}   table: {report['table']}",
        f"{'component':<12} {'pid':>8}  {'health':<9} address",
    ]
    for c in report["components"]:
        health = "healthy" if c["healthy"] else ("running" if c["running"] else "stopped")
        lines.append(f"{c['name']:<12} {c['pid'] or '-':>8}  {health:<9} {c['address'] or ''}")
    return "\n".join(lines)


def log_paths(config: StackConfig, component: str | None) -> list[Path]:
    state = StackState.load(config.state_path)
    if component is None:
        return [Path(c.log) for c in state.components.values()]
    if component not in state.components:
        known = ", ".join(state.components) or "none (the stack is not running)"
        raise StackError(f"no component {component!r}; known: {known}")
    return [Path(state.components[component].log)]


def tail(path: Path, lines: int) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


__all__ = ["ServerError", "StackConfig", "StackError", "down", "status", "up"]
