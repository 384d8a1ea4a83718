"""Bad values on the command line: one line naming the flag, exit 2, no traceback, and nothing
started or changed (every check runs before anything else). Through the real `invoke`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import ROOT, invoke

pytestmark = pytest.mark.integration

CASES = [
    (("req", "678", "-t", "-1"), "--timeout must be a number of seconds greater than 0"),
    (("req", "678", "--timeout", "soon"), "--timeout takes a number of seconds"),
    (("seed", "--rows", "0", "--force"), "--rows must be 1 or more, not 0"),
    (("up", "--replicas", "abc"), "--replicas takes a whole number, not 'abc'"),
    (("up", "--replicas", "0"), "--replicas must be 1 or more, not 0"),
    (("bench", "--replicas", "abc"), "--replicas takes a whole number, not 'abc'"),
    (("bench", "--warmup", "-1"), "--warmup must be 0 or more, not -1"),
    (("bench", "--rate", "-5"), "--rate must be a number of requests per second greater than 0"),
    (("bench", "--rate"), "--rate takes a value, for example --rate 500"),
    (("bench", "--timeout", "0"), "--timeout must be a number of seconds greater than 0, not 0"),
    (("bench", "-n", "ten"), "--requests takes a whole number, not 'ten'"),
    (("bench", "--clients", "0"), "--clients must be from 1 to 64, not 0"),
    (("bench", "--max-failures", "x%"), "--max-failures takes a number of percent"),
    (("bench", "--context", "c", "--server", "nats://x"), "--context names the server"),
    (("bench", "--duration", "60"), "--duration runs an open loop for that long: give --rate"),
    (("bench", "--rate", "9", "--duration", "0"), "--duration must be a number of seconds"),
    (("bench", "-r", "9", "-d", "5", "-n", "9"), "--duration and --requests both say how much"),
    (("events", "--last", "x"), "--last takes a whole number, not 'x'"),
    (("logs", "--lines", "0"), "--lines must be 1 or more, not 0"),
    (("deploy", "--env", "", "--creds", "x"), "--env takes a Copilot environment name"),
    (("destroy", "--env", "Prod!"), "--env takes a Copilot environment name"),
    (("up", "--mode", "bogus"), "--mode must be one of auto, native, docker, not 'bogus'"),
    (("events", "--client-id", "a b"), "--client-id 'a b' is not a customer id"),
    (("bench", "--ids", "0..-1"), "--ids range '0..-1' is empty"),
    (("bench", "--ids", "1..x"), "--ids range '1..x' must be two integers"),
    (("bench", "--max-failures", "abc"), "--max-failures takes a whole number or a percentage"),
    (("bench", "--json", "/nonexistent/dir/x.json"), "the directory /nonexistent/dir does not"),
    (("bench", "--json", "-"), "--json takes a file to write"),
    (("cp-create",), "cp-create needs the account's name: invoke cp-create --name NAME"),
    (("cp-delete", "--name", " "), "cp-delete needs the account's name"),
    (("test", "--workers", "0"), "--workers must be from 1 to 16, not 0"),
    (("test", "-w", "two"), "--workers takes a whole number, not 'two'"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_bad_value_is_named_before_anything_happens(
    stack_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = invoke(stack_env, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1  # one line


@pytest.mark.parametrize("task", ["up", "req", "seed", "logs", "bench", "deploy", "events"])
def test_help_shows_a_placeholder_for_every_value(stack_env: dict[str, str], task: str) -> None:
    """`-t, --timeout` without a placeholder reads like a switch."""
    shown = invoke(stack_env, "--help", task).stdout
    options = [line.strip() for line in shown.splitlines() if line.strip().startswith("-")]
    switches = {
        "--no-wait",
        "--wait",
        "--force",
        "--json",
        "--baseline",
        "--follow",
        "--dry-run",
        "--init",
        "--wipe",
        "--remove",
        "--http",
    }
    for option in options:
        spec = option.split("  ")[0]
        long = spec.split(",")[-1].strip().split("=")[0].replace("[no-]", "")
        if long in switches:
            continue
        assert "=" in spec, f"{task}: {spec} shows no value placeholder"


def test_a_bad_stack_variable_is_a_usage_error(stack_env: dict[str, str]) -> None:
    result = invoke({**stack_env, "STACK_NATS_PORT": "abc"}, "status")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "invalid configuration: STACK_NATS_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_selecting_an_unknown_context_writes_nothing_and_a_closed_pipe_is_quiet(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**stack_env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert invoke(env, "up").returncode == 0
    result = invoke(env, "context", "--select", "nope")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--select 'nope' names no context" in result.stderr
    assert not (tmp_path / "xdg" / "nats" / "context").exists()

    # `invoke logs | head -1`: the reader leaves after one line; no error, exit 0.
    for _ in range(3):
        script = f"{sys.executable} -m invoke logs --lines 2000 | head -1; exit ${{PIPESTATUS[0]}}"
        piped = subprocess.run(
            ["/bin/bash", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert piped.returncode == 0, piped.stderr
        assert piped.stderr == ""
        assert piped.stdout.count("\n") == 1


def test_a_json_path_is_never_created(stack_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    result = invoke(stack_env, "bench", "--json", str(missing / "x.json"))
    assert result.returncode == 2
    assert not missing.exists()
