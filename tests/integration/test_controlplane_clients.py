"""The twin judged by clients nobody here wrote: the original's own control-plane program,
built from its source on the official Go SDK, run exactly as its notes say (its token file
layout included) against the twin `invoke up` starts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.controlplane.client import ControlPlane
from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, http_stack
from tests.support.judged_twin import JudgedTwin, judged_twin

pytestmark = pytest.mark.integration

ORIGINAL_TOKEN_FILE = Path("cdk") / "config" / "control-plane-agent.token"
"""Where the original reads its token: `../cdk/config/...` from its working directory."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with http_stack("native", tmp_path_factory.mktemp("clients") / "stack") as running:
        yield running


@pytest.fixture
def judge(stack: HttpStack) -> Iterator[JudgedTwin]:
    """The clients call the twin through the document's judge; not one answer may fail it."""
    with judged_twin(twin_url(stack)) as judged:
        yield judged
    assert judged.failures == []
    assert judged.judged > 0


def twin_url(stack: HttpStack) -> str:
    return f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}"


def token_file(stack: HttpStack) -> Path:
    return Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token"


def system_id(stack: HttpStack) -> str:
    with ControlPlane(twin_url(stack), token_file(stack).read_text().strip()) as api:
        (team,) = api.teams()
        (system,) = api.systems(team.id)
        return system.id


def run_original(
    program: Path, workdir: Path, stack: HttpStack, base_url: str, action: str, initials: str = "AB"
) -> subprocess.CompletedProcess[str]:
    arguments = ["-action", action, "-initials", initials, "-systemId", system_id(stack)]
    return subprocess.run(
        [str(program), *arguments, "-baseUrl", base_url],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def original_workdir(tmp_path: Path, stack: HttpStack) -> Path:
    """Where the original's program runs, with its token file where its README puts it: the
    twin's token file as it is on disk (the original sends the bytes as read)."""
    workdir = tmp_path / "control-plane"
    workdir.mkdir()
    (tmp_path / ORIGINAL_TOKEN_FILE).parent.mkdir(parents=True)
    (tmp_path / ORIGINAL_TOKEN_FILE).write_bytes(token_file(stack).read_bytes())
    return workdir


def test_the_originals_program_lists_creates_and_deletes_an_account(
    stack: HttpStack, original_control_plane: Path, tmp_path: Path, judge: JudgedTwin
) -> None:
    """Its account has NATS and account limits but no JetStream: delete must still work."""
    workdir = original_workdir(tmp_path, stack)

    def step(action: str) -> str:
        done = run_original(original_control_plane, workdir, stack, judge.url, action)
        assert done.returncode == 0, f"{action}: {done.stdout}{done.stderr}"
        return done.stderr  # Go's log package writes to stderr

    assert "---- POC-AB ----" not in step("list")
    assert "Account created: POC-AB" in step("create")
    listed = step("list")
    assert "---- POC-AB ----" in listed
    assert "isSystemAccount: false" in listed
    assert "Deleting account id" in step("delete")
    assert "---- POC-AB ----" not in step("list")


def test_invoke_cp_delete_removes_an_account_the_original_made(
    stack: HttpStack, original_control_plane: Path, tmp_path: Path, judge: JudgedTwin
) -> None:
    workdir = original_workdir(tmp_path, stack)
    made = run_original(original_control_plane, workdir, stack, judge.url, "create", "CD")
    assert made.returncode == 0, made.stderr
    through_judge = ("--api-url", judge.url, "--token-file", str(token_file(stack)))
    deleted = invoke(stack.env, "cp-delete", "--name", "POC-CD", *through_judge)
    assert "Deleted account POC-CD" in deleted.stdout, deleted.stderr
    assert "POC-CD" not in invoke(stack.env, "cp-list", *through_judge).stdout


SDK_OPERATIONS = (
    "ListTeams", "GetTeam", "ListTeamSystems", "GetSystem",
    "CreateAccount", "ListAccounts", "GetAccount", "GetAccountInfo", "ListAccountSkGroup",
    "CreateUser", "ListUsers", "GetNatsUser", "DownloadNatsUserCreds",
    "DownloadNatsUserHttpGwToken", "DeleteNatsUser",
    "CreateKvBucket", "ListKvBuckets", "GetKvBucket", "DeleteKvBucket",
    "CreateStream", "ListStreams", "GetStreamInfo", "DeleteStream",
    "DeleteStream uncompressed", "DeleteAccount", "ListAccounts after delete",
)  # fmt: skip
"""Every operation the twin serves, as the SDK names them."""


def test_the_official_sdk_decodes_every_answer_of_every_operation(
    stack: HttpStack, conformance_client: Path, judge: JudgedTwin
) -> None:
    """But one: v0.5.2 cannot decode a stream whose compression is "none", which the document
    allows; the twin stays faithful to the document, and the limit is recorded."""
    done = subprocess.run(
        [str(conformance_client), "-baseUrl", judge.url],
        env={"CONTROLPLANE_TOKEN": token_file(stack).read_text(), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    walked = [line.split(" (")[0].removeprefix("ok ") for line in lines if line.startswith("ok ")]
    assert walked == list(SDK_OPERATIONS)
    (limit,) = [line for line in lines if line.startswith("limit ")]
    assert "S2Compression" in limit
    assert lines[-1] == "done"
