"""`down --wipe` in docker mode removes every volume of the project, whichever node count made
it: `compose down --volumes` removes only those of the Compose files it is given, so a
one-server `--wipe` kept the cluster's node volumes (and the other way round).

Runs with `pytest --stack=docker`; no container is started (a volume as an earlier run of the
other node count left it is enough)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from devkit.auth.security import ensure_security
from devkit.stack import compose
from devkit.stack.config import StackConfig
from devkit.stack.stack import record
from devkit.stack.state import DOCKER, StackState
from tests.support.commands import clean_environment, invoke
from tests.support.servers import Provider

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=False
    )


def project_volumes(project: str) -> list[str]:
    label = f"label={compose.PROJECT_LABEL}={project}"
    return docker("volume", "ls", "--quiet", "--filter", label).stdout.split()


@pytest.mark.parametrize(("left_by", "wiped_by"), [(3, 1), (1, 3)])
def test_wipe_removes_the_volumes_of_the_other_node_count(
    provider: Provider, tmp_path: Path, left_by: int, wiped_by: int
) -> None:
    if provider.name != "docker":
        pytest.skip("needs a real Docker engine: pytest --stack=docker")
    project = f"balance-test-{uuid.uuid4().hex[:8]}"
    left = [f"{project}_nats-2-data"] if left_by == 3 else [f"{project}_nats-data"]
    for volume in left:
        created = docker(
            "volume", "create", "--label", f"{compose.PROJECT_LABEL}={project}", volume
        )
        assert created.returncode == 0, created.stderr
    try:
        root = tmp_path / "stack"
        config = StackConfig(root=root, project=project, nats_nodes=wiped_by, mode="docker")
        material = ensure_security(root, clustered=config.clustered)
        environment = compose.compose_environment(config, replicas=1)
        env_file = compose.write_inputs(config, material, environment)
        StackState(
            mode=DOCKER,
            recorded=record(config),
            compose_env=str(env_file),
            compose_project=project,
        ).save(config.state_path)
        env = {
            **clean_environment(),
            "STACK_DIR": str(root),
            "STACK_PROJECT": project,
            "STACK_NATS_NODES": str(wiped_by),
        }
        wiped = invoke(env, "down", "--wipe")
        assert wiped.returncode == 0, wiped.stdout + wiped.stderr
        assert project_volumes(project) == []
    finally:
        for volume in project_volumes(project):
            docker("volume", "rm", volume)
