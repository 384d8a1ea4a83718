"""Control-plane clients nobody here wrote, built from `../shared` with Go: the original's own
program (through the shared build script, exactly as its notes say) and our conformance client
on the official SDK. Built once per test session; without Go or `../shared`, the test fails
naming what is missing, as CI has both."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.commands import ROOT

SHARED = ROOT.parent / "shared"
ORIGINAL_CLIENTS_SCRIPT = SHARED / "tools" / "original-clients"
SDK = SHARED / "reference" / "clients" / "control-plane-sdk-go"
CONFORMANCE_MODULE = ROOT / "tests" / "conformance"
"""Our own Go module on the SDK: walks every operation the twin serves."""
BUILD_TIMEOUT_S = 600


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        pytest.fail("Go is not on PATH: the control-plane conformance clients are built with it")
    return go


def _require(path: Path) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: the repository expects ../shared beside it, as in CI")


def build_original_control_plane(out: Path) -> Path:
    """The original's control-plane program on the SDK v0.5.2, built by the shared script."""
    _require(ORIGINAL_CLIENTS_SCRIPT)
    _go()
    done = subprocess.run(
        [str(ORIGINAL_CLIENTS_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "original-control-plane"


def build_conformance_client(out: Path) -> Path:
    """Our client, built against the SDK in ../shared (not on the module proxy) by `replace`."""
    _require(SDK)
    go = _go()
    binary = out / "controlplane-conformance"
    done = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=CONFORMANCE_MODULE,
        env={**os.environ, "GOFLAGS": "-buildvcs=false"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return binary
