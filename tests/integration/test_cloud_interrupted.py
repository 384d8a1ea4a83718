"""`invoke cloud-up` interrupted (Ctrl-C) while an answer is on its way: the twin has acted, the
caller never saw the id. Re-run, then `cloud-down`, must leave the twin exactly as before: the
ledger records each intent before the call, so the re-run adopts what it finds as its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devkit.controlplane.client import ControlPlane
from tests.support.commands import ROOT, invoke, taken_port
from tests.support.gateway import HttpStack, cloud_stack
from tests.support.judged_twin import JudgedTwin, judged_twin
from tests.support.openapi import CheckedTransport, published_document

pytestmark = pytest.mark.integration

ACCOUNT = "INTERRUPTED"
HELD_S = 5.0
"""How long the twin holds the answer: the interrupt comes well inside it."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with cloud_stack(tmp_path_factory.mktemp("interrupted")) as running:
        yield running


@pytest.fixture(scope="module")
def judge(stack: HttpStack) -> Iterator[JudgedTwin]:
    """cloud-up and cloud-down reach the twin through the document's judge."""
    with judged_twin(twin(stack)[0]) as judged:
        yield judged


def through(judge: JudgedTwin, stack: HttpStack) -> tuple[str, ...]:
    token_file = Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token"
    return ("--account", ACCOUNT, "--api-url", judge.url, "--token-file", str(token_file))


def twin(stack: HttpStack) -> tuple[str, dict[str, str]]:
    token = (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text()
    return f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}", {
        "Authorization": f"Bearer {token.strip()}"
    }


def snapshot(stack: HttpStack) -> list[tuple[str, str]]:
    url, headers = twin(stack)
    token = headers["Authorization"].removeprefix("Bearer ")
    with ControlPlane(url, token, transport=CheckedTransport(published_document())) as api:
        (team,) = api.teams()
        (system,) = api.systems(team.id)
        return sorted((a.name, a.id) for a in api.accounts(system.id))


def interrupted_cloud_up(
    stack: HttpStack, judge: JudgedTwin, method: str, path: str
) -> tuple[int, str]:
    """cloud-up with the answer to the first METHOD on PATH held; Ctrl-C once the twin acted."""
    url, headers = twin(stack)
    httpx.delete(f"{url}/twin/faults", headers=headers, timeout=10)
    fired = httpx.get(f"{url}/twin/faults", headers=headers, timeout=10).json()["fired"]
    rule = {"method": method, "path": path, "delay_s": HELD_S}
    assert httpx.post(f"{url}/twin/faults", json=rule, headers=headers, timeout=10).is_success
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "cloud-up", *through(judge, stack)],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/twin/faults", headers=headers, timeout=10).json()["fired"] == fired:
        assert process.poll() is None, "cloud-up ended before the held call"
        assert time.monotonic() < deadline, "cloud-up never made the held call"
        time.sleep(0.05)
    time.sleep(1.0)  # the twin has acted (in milliseconds); its answer is held
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    return process.returncode, err


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/core/beta/systems/*/accounts"),
        ("POST", "/core/beta/accounts/*/nats-users"),
        ("POST", "/core/beta/accounts/*/jetstream/kv-buckets"),
        ("POST", "/core/beta/accounts/*/jetstream/streams"),
        ("POST", "/core/beta/nats-users/*/creds"),
        ("POST", "/core/beta/nats-users/*/http-gw-token"),
    ],
)
def test_an_interrupted_cloud_up_rerun_then_cloud_down_leaves_the_twin_as_before(
    stack: HttpStack, judge: JudgedTwin, method: str, path: str
) -> None:
    before = snapshot(stack)
    code, err = interrupted_cloud_up(stack, judge, method, path)
    assert code == 130, err
    assert err.startswith("interrupted: run `invoke cloud-up` again")
    assert err.count("\n") == 1  # one line, no traceback
    resumed = invoke(stack.env, "cloud-up", *through(judge, stack))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    down = invoke(stack.env, "cloud-down", *through(judge, stack))
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"- removed account {ACCOUNT}" in down.stdout, resumed.stdout + down.stdout
    assert snapshot(stack) == before
    assert not list(Path(stack.env["CLOUD_DIR"]).glob(f"*/{ACCOUNT}"))  # ledger, creds, token
    contexts = Path(stack.env["XDG_CONFIG_HOME"]) / "nats" / "context"
    assert not list(contexts.glob("cloud-*.json"))
    assert judge.failures == []
