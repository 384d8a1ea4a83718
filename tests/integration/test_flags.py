"""Bad values on the command line: one line naming the flag, exit 2, no traceback, and nothing
started or changed (every check runs before anything else). Through the real `invoke`."""

from __future__ import annotations

import pytest

from tests.support.commands import invoke

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
