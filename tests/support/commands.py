"""The repository's commands, run as a person runs them, in an environment the test controls."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devkit.stack.state import StackState

ROOT = Path(__file__).resolve().parents[2]
OWN_VARIABLES = ("NATS_", "AWS_", "DDB_", "STACK_", "CLOUD_", "SYNADIA_")
"""Variables of the project's own that a test must not inherit from the developer's shell."""


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}


def stand_in_path(bin_dir: Path, name: str, script: str) -> str:
    """Put an executable `name` running `script` first on PATH; return the new PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / name
    program.write_text(script)
    program.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def invoke(
    env: dict[str, str], *args: str, cwd: Path = ROOT, python: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real `invoke` command, as a person types it (from the repository root unless told;
    with this interpreter unless another, e.g. one whose bin folder holds no tools, is given)."""
    return subprocess.run(
        [str(python or sys.executable), "-m", "invoke", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def required_tool(name: str) -> str:
    """An executable `pip install -e '.[dev]'` puts beside this Python (or one on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: it is installed by `pip install -e '.[dev]'`")
    return found


STACK_PORTS = (
    "STACK_NATS_PORT",
    "STACK_DYNAMODB_PORT",
    "STACK_GATEWAY_PORT",
    "STACK_CONTROLPLANE_PORT",
)


def stack_ports(variables: tuple[str, ...] = STACK_PORTS) -> dict[str, str]:
    """Ports the stack's servers choose themselves (0): `invoke up` reads them back and records
    them, and `taken_port` finds them; no test takes a port by binding it and letting go."""
    return {variable: "0" for variable in variables}


def taken_port(env: dict[str, str], variable: str) -> int:
    """The port the stack in `env` took for `variable` (`STACK_NATS_PORT`, ...), as `up`
    recorded it in the stack's state."""
    recorded = StackState.load(Path(env["STACK_DIR"]) / "state.json").recorded
    assert recorded is not None, f"no stack recorded in {env['STACK_DIR']}"
    port: int = getattr(recorded, variable.removeprefix("STACK_").lower())
    return port


CLUSTER_PORTS = (
    "STACK_NATS_CLUSTER_PORT",
    *(f"STACK_NATS_{node}_{kind}PORT" for node in (2, 3) for kind in ("", "MONITOR_", "CLUSTER_")),
)
"""The cluster's other ports: chosen by the servers too, whatever the node count."""

NATS_NODES = 1
"""STACK_NATS_NODES of every stack the tests start: pytest's `--nats-nodes` (tests/conftest.py)."""


def nats_components() -> tuple[str, ...]:
    """The nats-servers of a stack the tests start: "nats", and on the cluster its other nodes."""
    return ("nats", "nats-2", "nats-3")[:NATS_NODES]


def used_ports() -> tuple[str, ...]:
    """Every port variable a stack the tests start takes a port for (on the cluster, the
    other nodes' and every node's route port too)."""
    return (*STACK_PORTS, "STACK_NATS_MONITOR_PORT", *(CLUSTER_PORTS if NATS_NODES > 1 else ()))


def stack_environment(root: Path, mode: str, *, nats_nodes: int | None = None) -> dict[str, str]:
    """A stack of its own: its directory, and ports its servers choose, in `mode`; with
    `--nats-nodes` servers (or `nats_nodes`, for a test of the cluster itself)."""
    return {
        **clean_environment(),
        "STACK_MODE": mode,
        "STACK_DIR": str(root),
        "STACK_NATS_NODES": str(nats_nodes or NATS_NODES),
        **stack_ports((*STACK_PORTS, "STACK_NATS_MONITOR_PORT", *CLUSTER_PORTS)),
    }


CLUSTER_NODES = ("nats", "nats-2", "nats-3")
"""The components of a three-node stack, as `invoke status` names them."""


@contextmanager
def running_cluster(root: Path) -> Iterator[dict[str, str]]:
    """A native three-node stack of its own under `root` (its own NATS CLI contexts too), for
    a test module of the cluster itself; `down --wipe` afterwards, whatever happens."""
    env = {
        **stack_environment(root / "stack", "native", nats_nodes=len(CLUSTER_NODES)),
        "XDG_CONFIG_HOME": str(root / "xdg"),
    }
    started = invoke(env, "up")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        invoke(env, "down", "--wipe")
