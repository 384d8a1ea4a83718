"""The local stack's decisions: which mode runs, and reading `docker compose ps`."""

from __future__ import annotations

import pytest

from service.stack import Component, StackConfig, StackError, StackState, compose_rows, resolve_mode


def engine(answer: bool) -> object:
    return lambda: answer


def running(mode: str) -> StackState:
    if mode == "docker":
        return StackState(mode="docker", compose_env="/x/compose.env")
    return StackState(mode="native", components={"nats": Component("nats", 1, "nats-server", "l")})


@pytest.mark.parametrize(("has_engine", "expected"), [(True, "docker"), (False, "native")])
def test_auto_prefers_docker_when_an_engine_answers(has_engine: bool, expected: str) -> None:
    assert resolve_mode("auto", StackState(), engine(has_engine)) == expected  # type: ignore[arg-type]


def test_auto_keeps_the_mode_that_runs() -> None:
    assert resolve_mode("auto", running("native"), engine(True)) == "native"  # type: ignore[arg-type]
    assert resolve_mode("auto", running("docker"), engine(False)) == "docker"  # type: ignore[arg-type]


def test_switching_modes_while_running_is_refused() -> None:
    with pytest.raises(StackError, match="invoke down"):
        resolve_mode("docker", running("native"), engine(True))  # type: ignore[arg-type]


def test_docker_without_an_engine_is_refused() -> None:
    with pytest.raises(StackError, match="needs a Docker engine"):
        resolve_mode("docker", StackState(), engine(False))  # type: ignore[arg-type]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(StackError, match="--mode must be one of"):
        resolve_mode("podman", StackState(), engine(False))  # type: ignore[arg-type]


def test_compose_ps_output_in_both_formats() -> None:
    line = '{"Name":"a","State":"running"}'
    assert compose_rows(f"[{line}]") == [{"Name": "a", "State": "running"}]
    assert compose_rows(f"{line}\n{line}\n") == [{"Name": "a", "State": "running"}] * 2
    assert compose_rows("") == []


def test_environment_overrides_and_bad_ports() -> None:
    config = StackConfig.from_environment({"STACK_NATS_PORT": "4333", "STACK_ACCOUNT": "TEAM"})
    assert config.nats_url == "nats://127.0.0.1:4333"
    assert config.account == "TEAM"
    with pytest.raises(StackError, match="STACK_DYNAMODB_PORT must be a port number"):
        StackConfig.from_environment({"STACK_DYNAMODB_PORT": "eight"})


def test_service_settings_pass_through_to_the_replicas() -> None:
    config = StackConfig.from_environment({"STACK_SERVICE_DDB_BATCH_MAX": "1", "OTHER": "x"})
    assert config.service_environment()["DDB_BATCH_MAX"] == "1"
    assert "OTHER" not in config.service_environment()


def test_a_freshly_started_process_is_recognised() -> None:
    """Its cmdline reads empty for a moment during exec; that must not count as a stranger."""
    import sys
    from pathlib import Path

    from service.servers import launch, process_matches

    for _ in range(20):
        launched = launch(
            [sys.executable, "-c", "import time; time.sleep(2)"], log_path=Path("/dev/null")
        )
        try:
            assert process_matches(launched.pid, "time.sleep(2)")
        finally:
            launched.process.kill()
            launched.process.wait()
