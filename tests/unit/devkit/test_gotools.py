"""A Go tool that cannot be built (no Go module proxy, as offline) is one line and exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devkit.gotools import GoTool, GoToolError, ensure_tool


def test_no_module_proxy_is_one_line_naming_what_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("go") is None:
        pytest.fail("Go is part of this project's machine (it builds the NATS CLI)")
    monkeypatch.setenv("GOPROXY", "off")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")
    tool = GoTool("nats-offline-probe", "github.com/nats-io/natscli/nats", "v0.5.0")
    with pytest.raises(GoToolError) as raised:
        ensure_tool(tool, bin_dir=tmp_path)
    message = str(raised.value)
    assert "go install` needs the Go module proxy" in message
    assert "\n" not in message
    assert raised.value.exit_code == 2
    assert not (tmp_path / tool.name).exists()
