"""The NATS CLI (`nats`), a real client in the tests and for people: installed pinned, with Go.

natscli is on no package index this project can use, so `invoke test` builds it with
`go install` into the virtual environment's bin folder, where the tests look first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from service.faults import OperatorError

NATSCLI_MODULE = "github.com/nats-io/natscli/nats"
NATSCLI_VERSION = "v0.5.0"
"""Pinned: v0.5.1 is not served by the module proxy."""


class NatsCliError(OperatorError):
    """The CLI is missing and cannot be built here."""


def installed_cli(bin_dir: Path | None = None) -> Path | None:
    beside = (bin_dir or Path(sys.executable).parent) / "nats"
    if beside.exists():
        return beside
    found = shutil.which("nats")
    return Path(found) if found else None


def ensure_nats_cli(bin_dir: Path | None = None) -> Path:
    """Return the CLI, building the pinned version with Go if it is not there yet."""
    existing = installed_cli(bin_dir)
    if existing is not None:
        return existing
    go = shutil.which("go")
    if go is None:
        raise NatsCliError(
            "the NATS CLI is not installed and Go is not on PATH to build it;"
            f" install Go, or run: go install {NATSCLI_MODULE}@{NATSCLI_VERSION}"
        )
    target = bin_dir or Path(sys.executable).parent
    subprocess.run(
        [go, "install", f"{NATSCLI_MODULE}@{NATSCLI_VERSION}"],
        env={**os.environ, "GOBIN": str(target)},
        check=True,
    )
    return target / "nats"
