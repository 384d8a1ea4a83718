"""`invoke cloud-up` against the local twin: a full rehearsal of the cloud side. A second account
on the local server, a replica running with that account's service creds answering a request
made with its client creds, the client refused where the local stack refuses it, and
`cloud-down` leaving nothing behind; a run that fails part-way resumes."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import RawCredentials
from nats.errors import Error as NatsError

from devkit.controlplane.client import ControlPlane
from service import names
from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, cloud_stack
from tests.support.judged_twin import JudgedTwin, judged_twin
from tests.support.openapi import CheckedTransport, published_document
from tests.support.permissions import watched
from tests.support.replicas import kill_all, launch_service
from tests.support.servers import Dynamo
from tests.support.users import connect_user

pytestmark = pytest.mark.integration

ACCOUNT = "REHEARSAL"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with cloud_stack(tmp_path_factory.mktemp("rehearsal")) as running:
        yield running


@pytest.fixture(scope="module")
def judge(stack: HttpStack) -> Iterator[JudgedTwin]:
    """cloud-up and cloud-down reach the twin through the document's judge."""
    with judged_twin(
        f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}"
    ) as judged:
        yield judged
    assert judged.failures == []


def cloud(stack: HttpStack, judge: JudgedTwin, *args: str) -> tuple[int, str, str]:
    token_file = Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token"
    through = ("--api-url", judge.url, "--token-file", str(token_file))
    done = invoke(stack.env, *args, "--account", ACCOUNT, *through)
    return done.returncode, done.stdout, done.stderr


def files(stack: HttpStack, judge: JudgedTwin) -> Path:
    port = judge.url.rsplit(":", 1)[1]
    return Path(stack.env["CLOUD_DIR"]) / f"127.0.0.1_{port}" / ACCOUNT


def twin(stack: HttpStack) -> ControlPlane:
    """The twin, every answer judged against the published document."""
    token = (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text()
    url = f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}"
    return ControlPlane(url, token.strip(), transport=CheckedTransport(published_document()))


async def verdicts(url: str, creds: str) -> dict[str, bool]:
    """For each thing a client might try: did the server refuse it?"""
    user = await watched(url, creds, raw=True)
    nc = user.nc
    refused = await user.refused(
        {
            "subscribe customer.balance": lambda: nc.subscribe(names.REQUEST_SUBJECT),
            "publish an event": lambda: nc.publish(names.event_subject("1"), b"{}"),
            "read the config bucket": lambda: nc.publish(f"$KV.{names.KV_BUCKET}.x", b""),
            "ask for a balance": lambda: nc.publish(names.REQUEST_SUBJECT, b'{"client_id":"1"}'),
        }
    )
    await nc.close()
    return refused


def test_cloud_up_rehearses_the_whole_cloud_side(
    stack: HttpStack, judge: JudgedTwin, tmp_path: Path
) -> None:
    code, out, err = cloud(stack, judge, "cloud-up", "--dry-run")
    assert code == 0, err
    assert f"+ would create account {ACCOUNT}" in out
    assert ACCOUNT not in invoke(stack.env, "cp-list", "--api-url", "local").stdout

    code, out, err = cloud(stack, judge, "cloud-up")
    assert code == 0, out + err
    for made in ("account", "user service", "user client", "bucket config", "stream"):
        assert f"+ created {made}" in out, out
    code, again, err = cloud(stack, judge, "cloud-up")
    assert code == 0, err
    assert "Nothing changed" in again
    assert "+ " not in again

    directory = files(stack, judge)
    for path in (*(directory / "creds").iterdir(), directory / "client.gateway-token"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    service_creds = (directory / "creds" / "service.creds").read_text()
    client_creds = (directory / "creds" / "client.creds").read_text()
    # The twin's creds are the local operator's: never deployed as if they were the cloud's.
    deploy = invoke(
        stack.env, "deploy", "--creds", str(directory / "creds" / "service.creds"), "--dry-run"
    )
    assert deploy.returncode == 1, deploy.stdout
    assert "belongs to the local stack" in deploy.stderr
    context = json.loads(
        (Path(stack.env["XDG_CONFIG_HOME"]) / "nats" / "context" / "cloud-client.json").read_text()
    )
    assert context["url"] == stack.servers

    table = f"rehearsal-{uuid.uuid4().hex[:8]}"
    dynamodb = f"http://127.0.0.1:{taken_port(stack.env, 'STACK_DYNAMODB_PORT')}"
    Dynamo(endpoint=dynamodb).create_table(table)  # in the cloud, Copilot's addon makes it
    replica = launch_service(
        tmp_path,
        "cloud-replica",
        {
            "NATS_URL": stack.servers,
            "NATS_CREDENTIALS": base64.b64encode(service_creds.encode()).decode(),
            "DDB_TABLE": table,
            "AWS_ENDPOINT_URL": dynamodb,
            "AWS_REGION": names.DEFAULT_REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "SEED_ROWS": "50",
            "STREAM_REPLICAS": "1",
        },
    )
    try:
        replica.wait_ready(timeout_s=60)

        async def ask() -> dict[str, int]:
            nc = await connect_user(stack.nats_url, client_creds, raw=True)
            reply = await nc.request(names.REQUEST_SUBJECT, b'{"client_id":"7"}', timeout=5)
            await nc.close()
            answer: dict[str, int] = json.loads(reply.data)
            return answer

        assert set(asyncio.run(ask())) == {"balance"}
        token = (directory / "client.gateway-token").read_text().strip()
        over_http = httpx.post(
            stack.subjects(names.REQUEST_SUBJECT),
            content=b'{"client_id":"8"}',
            headers={"Authorization": token},
            timeout=10,
        )
        assert over_http.status_code == 200, over_http.text
        assert set(over_http.json()) == {"balance"}

        local_client = (Path(stack.env["STACK_DIR"]) / "creds" / "client.creds").read_text()
        in_the_cloud = asyncio.run(verdicts(stack.nats_url, client_creds))
        locally = asyncio.run(verdicts(stack.nats_url, local_client))
        assert in_the_cloud == locally
        assert in_the_cloud["subscribe customer.balance"]
        assert not in_the_cloud["ask for a balance"]
    finally:
        kill_all([replica])

    with twin(stack) as api:
        (team,) = api.teams()
        (system,) = api.systems(team.id)
        (account,) = [a for a in api.accounts(system.id) if a.name == ACCOUNT]
        (stream,) = api.streams(account.id)
        assert stream.state.messages >= 2  # the events of both answers, in cloud-up's stream

    code, out, err = cloud(stack, judge, "cloud-down")
    assert code == 0, err
    assert "- removed account REHEARSAL" in out
    assert not directory.exists()
    assert ACCOUNT not in invoke(stack.env, "cp-list", "--api-url", "local").stdout

    async def refused() -> None:
        with pytest.raises((NatsError, OSError)):
            await nats.connect(
                stack.nats_url,
                user_credentials=RawCredentials(client_creds),
                allow_reconnect=False,
                max_reconnect_attempts=1,
            )

    asyncio.run(refused())
    assert judge.failures == []
    assert judge.judged > 20


def test_a_run_that_fails_part_way_resumes_and_cloud_down_removes_it_all(
    stack: HttpStack, judge: JudgedTwin
) -> None:
    token = (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text()
    fault = httpx.post(
        f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}/twin/faults",
        json={"method": "POST", "path": "/core/beta/accounts/*/jetstream/streams", "status": 400},
        headers={"Authorization": f"Bearer {token.strip()}"},
        timeout=10,
    )
    assert fault.status_code == 201
    local_service = Path(stack.env["STACK_DIR"]) / "creds" / "service.creds"
    invoke(stack.env, "context", "--cloud-service-creds", str(local_service))  # the real cloud's
    theirs = Path(stack.env["XDG_CONFIG_HOME"]) / "nats" / "context" / "cloud-service.json"
    before = theirs.read_text()
    code, out, err = cloud(stack, judge, "cloud-up")
    assert code == 1
    assert "+ created bucket config" in out
    assert err.startswith("error: POST /api/core/beta/accounts/")
    assert err.count("\n") == 1

    code, resumed, err = cloud(stack, judge, "cloud-up")
    assert code == 0, err
    assert f"= account {ACCOUNT} exists" in resumed
    assert "= bucket config exists" in resumed
    assert f"+ created stream {names.STREAM_NAME}" in resumed

    code, out, err = cloud(stack, judge, "cloud-down")
    assert code == 0, err
    assert "- removed account REHEARSAL" in out  # the first run made it: it is ours
    code, out, _ = cloud(stack, judge, "cloud-down")
    assert "Nothing to remove" in out
    assert "! NATS context cloud-service exists and points elsewhere; left" in resumed
    assert theirs.read_text() == before  # neither overwritten nor removed
    assert judge.failures == []
