"""The repository's commands, run as a person runs them, in an environment the test controls."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def free_port() -> int:
    """A port free a moment ago: bound, then let go for a stack to take, which races with any
    other program wanting one. Only for `invoke up`, which cannot take port 0 yet; a server
    a test starts itself takes port 0 and its launch reads the port back
    (devkit.stack.servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stack_ports(variables: tuple[str, ...] = STACK_PORTS) -> dict[str, str]:
    """A stack's ports of its own (the one place a test still picks ports for `invoke up`)."""
    return {variable: str(free_port()) for variable in variables}


def stack_environment(root: Path, mode: str) -> dict[str, str]:
    """A stack of its own: its directory and free ports, in `mode`."""
    return {
        **clean_environment(),
        "STACK_MODE": mode,
        "STACK_DIR": str(root),
        **stack_ports((*STACK_PORTS, "STACK_NATS_MONITOR_PORT")),
    }
