"""Real tools nobody here wrote (the NATS CLI, Toxiproxy) that no package index this project can
use carries: built pinned with `go install` into the virtual environment's bin folder, where
the tests and tasks look first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from service.operator_errors import OperatorError


class GoToolError(OperatorError):
    """The tool is missing and cannot be built here: a machine's setup, named in one line."""

    exit_code = 2


@dataclass(frozen=True)
class GoTool:
    name: str
    """The executable's name in the bin folder."""
    module: str
    """The Go package `go install` builds (its last path element names what Go writes)."""
    version: str


VEGETA = GoTool(name="vegeta", module="github.com/tsenart/vegeta/v12", version="v12.13.0")
"""The HTTP load generator of `invoke bench --http` (docs/decisions.md, "A Go HTTP load
generator"): a fixed rate or a closed loop of N workers, results per request."""


def built_name(module: str) -> str:
    """What `go install` names the binary: the package's last element, or the one before a
    major-version suffix (`.../vegeta/v12` builds `vegeta`)."""
    parts = module.rstrip("/").split("/")
    last = parts[-1]
    if len(parts) > 1 and last[:1] == "v" and last[1:].isdigit():
        return parts[-2]
    return last


def installed(tool: GoTool, bin_dir: Path | None = None) -> Path | None:
    beside = (bin_dir or Path(sys.executable).parent) / tool.name
    if beside.exists():
        return beside
    found = shutil.which(tool.name)
    return Path(found) if found else None


def ensure_tool(tool: GoTool, bin_dir: Path | None = None) -> Path:
    """The tool, built at its pinned version with Go when it is not there yet."""
    existing = installed(tool, bin_dir)
    if existing is not None:
        return existing
    go = shutil.which("go")
    if go is None:
        raise GoToolError(
            f"{tool.name} is not installed and Go is not on PATH to build it; install Go,"
            f" or run: go install {tool.module}@{tool.version}"
        )
    target = bin_dir or Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as scratch:  # Go names the binary after the package
        built_by = subprocess.run(
            [go, "install", f"{tool.module}@{tool.version}"],
            env={**os.environ, "GOBIN": scratch},
            capture_output=True,
            text=True,
            check=False,
        )
        if built_by.returncode != 0:
            last = (built_by.stderr.strip().splitlines() or ["no output"])[-1]
            raise GoToolError(
                f"cannot build {tool.name} {tool.version}: `go install` needs the Go module proxy"
                f" (or a module cache that has {tool.module}); it said: {last}"
            )
        built = Path(scratch) / built_name(tool.module)
        shutil.move(built, target / tool.name)
    return target / tool.name
