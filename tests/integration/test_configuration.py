"""Invalid configuration fails fast: one line naming the variable, exit code 2, nothing connected."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from tests.support.commands import ROOT, clean_environment

pytestmark = pytest.mark.integration

BASE = {
    "DDB_TABLE": "balances",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "NATS_URL": "nats://127.0.0.1:9",
}


def run_service(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = clean_environment()
    return subprocess.run(
        [sys.executable, "-m", "service"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({k: v for k, v in BASE.items() if k != "DDB_TABLE"}, "DDB_TABLE"),
        ({**BASE, "SEED_ROWS": "many"}, "SEED_ROWS"),
        ({**BASE, "MAX_CONCURRENCY": "0"}, "MAX_CONCURRENCY"),
        ({**BASE, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({k: v for k, v in BASE.items() if k != "AWS_ENDPOINT_URL"}, "AWS_REGION"),
        ({**BASE, "NATS_CREDENTIALS": "%%% not base64 %%%"}, "NATS_CREDENTIALS"),
        (
            {**BASE, "NATS_CREDENTIALS": base64.b64encode(b"hello").decode()},
            "NATS_CREDENTIALS",
        ),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(env: dict[str, str], variable: str) -> None:
    result = run_service(env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_nats_exits_1_after_the_configured_attempts_with_the_cause() -> None:
    result = run_service({**BASE, "CONNECT_ATTEMPTS": "2"})
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "error: could not connect to NATS at nats://127.0.0.1:9 after 2 attempts"
    )
    assert "Connect call failed" in last  # the cause, not nats-py's "no servers available"
    assert "Traceback" not in result.stderr + result.stdout
