"""The local stack's decisions: which mode runs, its configuration, reading `docker compose ps`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devkit.stack.compose import ComposeRow, Publisher, compose_rows
from devkit.stack.config import StackError, load_stack_config
from devkit.stack.lifecycle import resolve_mode
from devkit.stack.processes import launch, process_matches
from devkit.stack.report import ComponentStatus, StackStatus
from devkit.stack.state import Component, Mode, StackState


def engine(answer: bool) -> Callable[[], bool]:
    return lambda: answer


def running(mode: Mode) -> StackState:
    if mode == "docker":
        return StackState(mode="docker", compose_env="/x/compose.env")
    nats = Component(name="nats", pid=1, marker="nats-server", log="l")
    return StackState(mode="native", components={"nats": nats})


@pytest.mark.parametrize(("has_engine", "expected"), [(True, "docker"), (False, "native")])
def test_auto_prefers_docker_when_an_engine_answers(has_engine: bool, expected: str) -> None:
    assert resolve_mode("auto", StackState(), engine(has_engine)) == expected


def test_auto_keeps_the_mode_that_runs() -> None:
    assert resolve_mode("auto", running("native"), engine(True)) == "native"
    assert resolve_mode("auto", running("docker"), engine(False)) == "docker"


def test_switching_modes_while_running_is_refused() -> None:
    with pytest.raises(StackError, match="invoke down"):
        resolve_mode("docker", running("native"), engine(True))


def test_docker_without_an_engine_is_refused() -> None:
    with pytest.raises(StackError, match="needs a Docker engine"):
        resolve_mode("docker", StackState(), engine(False))


def test_an_explicit_mode_is_kept() -> None:
    assert resolve_mode("docker", StackState(), engine(True)) == "docker"
    assert resolve_mode("native", StackState(), engine(True)) == "native"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(StackError, match="--mode must be one of"):
        resolve_mode("podman", StackState(), engine(False))


def test_compose_ps_output_in_both_formats() -> None:
    line = '{"Name":"a","State":"running","Publishers":[{"URL":"127.0.0.1","PublishedPort":4222}]}'
    row = ComposeRow(
        Name="a", State="running", Publishers=[Publisher(URL="127.0.0.1", PublishedPort=4222)]
    )
    assert compose_rows(f"[{line}]") == [row]
    assert compose_rows(f"{line}\n{line}\n") == [row] * 2
    assert compose_rows("") == []
    status = row.status()
    assert (status.name, status.running, status.healthy) == ("a", True, True)
    assert status.address == "127.0.0.1:4222"


def test_environment_overrides_and_bad_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK_NATS_PORT", "4333")
    monkeypatch.setenv("STACK_ACCOUNT", "TEAM")
    monkeypatch.setenv("STACK_TABLE", "")  # empty means unset
    config = load_stack_config()
    assert config.nats_url == "nats://127.0.0.1:4333"
    assert config.account == "TEAM"
    assert config.table == "customer-balances"
    monkeypatch.setenv("STACK_DYNAMODB_PORT", "eight")
    with pytest.raises(StackError, match="STACK_DYNAMODB_PORT: Input should be a valid integer"):
        load_stack_config()
    monkeypatch.setenv("STACK_DYNAMODB_PORT", "70000")
    with pytest.raises(StackError, match="STACK_DYNAMODB_PORT"):
        load_stack_config()


def test_the_stack_directory_comes_from_stack_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STACK_DIR", raising=False)
    monkeypatch.setenv("ROOT", "/not/this")
    assert load_stack_config().root == Path(".stack")
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    assert load_stack_config().root == tmp_path


def test_service_settings_pass_through_to_the_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK_SERVICE_DDB_BATCH_MAX", "1")
    monkeypatch.setenv("OTHER", "x")
    environment = load_stack_config().service_environment()
    assert environment["DDB_BATCH_MAX"] == "1"
    assert "OTHER" not in environment


def test_a_status_row_carries_error_only_when_there_is_one(tmp_path: Path) -> None:
    row = ComponentStatus(name="nats", pid=1, address=None, running=True, healthy=True, log=None)
    broken = row.model_copy(update={"name": "docker", "error": "no engine"})
    config = load_stack_config().model_copy(update={"root": tmp_path})
    document = StackStatus.of(config, "native", [row, broken]).document()
    assert "error" not in document["components"][0]
    assert document["components"][1]["error"] == "no engine"
    assert set(document) == {
        "mode",
        "nats_url",
        "dynamodb_endpoint",
        "table",
        "account",
        "creds",
        "components",
    }


def test_a_freshly_started_process_is_recognised() -> None:
    """Its cmdline reads empty for a moment during exec; that must not count as a stranger."""
    for _ in range(20):
        launched = launch(
            [sys.executable, "-c", "import time; time.sleep(2)"], log_path=Path("/dev/null")
        )
        try:
            assert process_matches(launched.pid, "time.sleep(2)")
        finally:
            launched.process.kill()
            launched.process.wait()
