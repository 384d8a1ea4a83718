"""The NATS CLI (`nats`), a real client in the tests and for people: installed pinned, with Go.

natscli is on no package index this project can use, so `invoke test` builds it with
`go install` into the virtual environment's bin folder, where the tests look first.
"""

from __future__ import annotations

from pathlib import Path

from devkit.gotools import GoTool, GoToolError, ensure_tool, installed

NATS_CLI = GoTool(name="nats", module="github.com/nats-io/natscli/nats", version="v0.5.0")
"""Pinned: v0.5.1 is not served by the module proxy."""

NatsCliError = GoToolError


def installed_cli(bin_dir: Path | None = None) -> Path | None:
    return installed(NATS_CLI, bin_dir)


def ensure_nats_cli(bin_dir: Path | None = None) -> Path:
    """Return the CLI, building the pinned version with Go if it is not there yet."""
    return ensure_tool(NATS_CLI, bin_dir)
