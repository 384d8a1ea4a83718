"""The local stack's decisions: which mode runs, its configuration, reading `docker compose ps`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devkit.flags import FlagError
from devkit.project import ROOT
from devkit.stack.config import StackConfig, StackError, load_stack_config
from devkit.stack.containers import ComposeRow, Publisher, compose_rows, compose_selection
from devkit.stack.lifecycle import resolve_mode
from devkit.stack.processes import launch, process_matches
from devkit.stack.report import ComponentStatus, JobStatus, StackStatus, render_status
from devkit.stack.state import Component, Mode, StackState

NO_ENGINE = "no Docker engine answers `docker info`"
NO_COMPOSE = "the Docker engine answers, but `docker compose version` fails (no compose plugin)"


def docker(problem: str | None) -> Callable[[], str | None]:
    return lambda: problem


def running(mode: Mode) -> StackState:
    if mode == "docker":
        return StackState(mode="docker", compose_env="/x/compose.env")
    nats = Component(name="nats", pid=1, marker="nats-server", log="l")
    return StackState(mode="native", components={"nats": nats})


def test_auto_prefers_docker_when_an_engine_and_compose_answer() -> None:
    mode, reason = resolve_mode("auto", StackState(), docker(None))
    assert mode == "docker"
    assert "compose plugin answer" in reason


@pytest.mark.parametrize("problem", [NO_ENGINE, NO_COMPOSE])
def test_auto_runs_native_and_says_why_when_docker_cannot(problem: str) -> None:
    assert resolve_mode("auto", StackState(), docker(problem)) == ("native", f"auto: {problem}")


def test_auto_keeps_the_mode_that_runs() -> None:
    assert resolve_mode("auto", running("native"), docker(None))[0] == "native"
    assert resolve_mode("auto", running("docker"), docker(NO_ENGINE))[0] == "docker"


def test_switching_modes_while_running_is_refused() -> None:
    with pytest.raises(StackError, match="invoke down"):
        resolve_mode("docker", running("native"), docker(None))


@pytest.mark.parametrize("problem", [NO_ENGINE, NO_COMPOSE])
def test_docker_without_an_engine_or_compose_is_refused(problem: str) -> None:
    with pytest.raises(StackError, match="needs a Docker engine with the compose plugin") as caught:
        resolve_mode("docker", StackState(), docker(problem))
    assert problem in str(caught.value)


def test_an_explicit_mode_is_kept() -> None:
    assert resolve_mode("docker", StackState(), docker(None))[0] == "docker"
    assert resolve_mode("native", StackState(), docker(NO_ENGINE))[0] == "native"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(FlagError, match="--mode must be one of"):
        resolve_mode("podman", StackState(), docker(None))


ROW = (
    '{"Name":"customer-balance-nats-1","Service":"nats","State":"running","Health":"healthy",'
    '"Publishers":[{"URL":"127.0.0.1","PublishedPort":4222}]}'
)


def test_compose_ps_output_in_both_formats() -> None:
    row = ComposeRow(
        Name="customer-balance-nats-1",
        Service="nats",
        State="running",
        Health="healthy",
        Publishers=[Publisher(URL="127.0.0.1", PublishedPort=4222)],
    )
    assert compose_rows(f"[{ROW}]") == [row]
    assert compose_rows(f"{ROW}\n{ROW}\n") == [row] * 2
    assert compose_rows("") == []


def test_logs_of_a_replica_select_the_containers_index() -> None:
    assert compose_selection("balance-2") == ["--index", "2", "balance"]
    assert compose_selection("balance") == ["balance"]
    assert compose_selection("dynamodb-volume") == ["dynamodb-volume"]
    assert compose_selection(None) == []


def test_containers_carry_the_native_stack_names_and_addresses(tmp_path: Path) -> None:
    config = StackConfig(root=tmp_path, nats_port=4333)
    replica = ComposeRow(Name="customer-balance-balance-12", Service="balance", State="running")
    nats = compose_rows(ROW)[0]
    assert (replica.component, nats.component) == ("balance-12", "nats")
    assert nats.status(config).address == "nats://127.0.0.1:4333"
    assert replica.status(config).address == "customer.balance (queue q)"
    assert replica.status(config).healthy


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
    assert load_stack_config().root == ROOT / ".stack"  # the repository's, from any directory
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
        "jobs",
        "stream",
    }


def test_the_status_table_lines_up_and_reports_jobs_apart(tmp_path: Path) -> None:
    def row(name: str, pid: int | None, address: str) -> ComponentStatus:
        return ComponentStatus(
            name=name, pid=pid, address=address, running=True, healthy=True, log=None
        )

    jobs = [
        JobStatus(name="dynamodb-volume", state="succeeded", exit_code=0),
        JobStatus(name="bootstrap", state="failed", exit_code=1, last_line="error: no table"),
    ]
    rows = [row("nats", 123456, "nats://127.0.0.1:4222"), row("balance-10", None, "x")]
    config = StackConfig(root=tmp_path)
    lines = render_status(StackStatus.of(config, "docker", rows, jobs)).splitlines()
    header, nats, replica = lines[1:4]
    assert header.index("pid") + 3 == nats.index("123456") + 6 == replica.index(" - ") + 2
    assert header.index("health") == nats.index("healthy") == replica.index("healthy")
    assert lines[4:] == [
        "job dynamodb-volume: succeeded",
        "job bootstrap: failed (exit code 1): error: no table",
    ]


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


def test_a_service_setting_the_service_does_not_have_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STACK_SERVICE_DDB_BATCH_MAXX", "1")
    with pytest.raises(StackError) as caught:
        load_stack_config()
    assert str(caught.value) == (
        "invalid configuration: STACK_SERVICE_DDB_BATCH_MAXX: the service has no setting"
        " DDB_BATCH_MAXX (did you mean STACK_SERVICE_DDB_BATCH_MAX?) (its settings:"
        " docs/configuration.md)"
    )
    assert caught.value.exit_code == 2
