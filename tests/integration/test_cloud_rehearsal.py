"""`invoke cloud-up` against the local twin: a full rehearsal of the cloud side. A second account
on the local server, a replica running with that account's service creds answering a request
made with its client creds, the client refused where the local stack refuses it, and
`cloud-down` leaving nothing behind; a run that fails part-way resumes. On one server and on the
three-node cluster (STACK_NATS_NODES=3), whatever `--nats-nodes` says: the stream and the bucket
are R1 on the one, R3 on the other, as the twin's tiers say."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import RawCredentials
from nats.errors import Error as NatsError

from devkit.auth.jwt import decode_claims, identity_from_seed, new_identity
from devkit.controlplane.client import ControlPlane, ControlPlaneError
from devkit.controlplane.models import (
    AccountCreateRequest,
    KvBucketConfig,
    NatsUserCreateRequest,
    Permission,
    UserJwtSettings,
)
from devkit.controlplane_twin import tiers
from devkit.controlplane_twin.server_side import ServerSide
from service import names
from tests.support import commands
from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, cloud_stack
from tests.support.judged_twin import JudgedTwin, judged_twin
from tests.support.openapi import CheckedTransport, published_document
from tests.support.permissions import watched
from tests.support.replicas import kill_all, launch_service
from tests.support.servers import Dynamo, wait_gone
from tests.support.users import connect_user

pytestmark = pytest.mark.integration

ACCOUNT = "REHEARSAL"


@pytest.fixture(scope="module", params=[1, 3], ids=["one-server", "cluster"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpStack]:
    """`--nats-nodes` set to the param for this stack's `up` alone: its environment keeps it."""
    with contextlib.ExitStack() as running:
        with pytest.MonkeyPatch.context() as switch:
            switch.setattr(commands, "NATS_NODES", request.param)
            started = running.enter_context(cloud_stack(tmp_path_factory.mktemp("rehearsal")))
        assert started.env["STACK_NATS_NODES"] == str(request.param)
        yield started


def status(stack: HttpStack) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(invoke(stack.env, "status", "--json").stdout)
    return report


def replicas(stack: HttpStack) -> int:
    """What the stack is, from its own status: 3 replicas on the cluster, 1 on one server."""
    return 3 if status(stack).get("nats_nodes", 1) == 3 else 1


CURRENT_WITHIN_S = 10.0
"""A new follower catches up with a leader at once; the issue's bound for replicas to answer."""


async def stream_replicas(stack: HttpStack, creds: str, stream: str) -> tuple[int, str | None, int]:
    """The server's own STREAM.INFO: replicas configured, the leader, and followers current (a
    follower still catching up is asked again, until CURRENT_WITHIN_S)."""
    nc = await connect_user(stack.nats_url, creds, raw=True)
    deadline = asyncio.get_running_loop().time() + CURRENT_WITHIN_S
    while True:
        info = await nc.jetstream().stream_info(stream)
        cluster = info.cluster
        current = sum(1 for peer in (cluster.replicas or []) if peer.current) if cluster else 0
        configured = info.config.num_replicas or 1
        if current == configured - 1 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    await nc.close()
    return configured, cluster.leader if cluster else None, current


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
    wanted = replicas(stack)
    code, out, err = cloud(stack, judge, "cloud-up", "--dry-run")
    assert code == 0, err
    assert f"JetStream R{wanted}" in out.splitlines()[0], out
    assert f"+ would create account {ACCOUNT}" in out
    assert ACCOUNT not in invoke(stack.env, "cp-list", "--api-url", "local").stdout

    code, out, err = cloud(stack, judge, "cloud-up")
    assert code == 0, out + err
    for made in ("account", "user service", "user client", "bucket config", "stream"):
        assert f"+ created {made}" in out, out
    assert f"+ created stream {names.STREAM_NAME} (R{wanted})" in out, out
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

    for made_by_cloud_up in (names.STREAM_NAME, f"KV_{names.KV_BUCKET}"):
        found, leader, current = asyncio.run(
            stream_replicas(stack, service_creds, made_by_cloud_up)
        )
        assert found == wanted, made_by_cloud_up
        if wanted == 3:
            assert leader is not None, made_by_cloud_up
            assert current == 2, made_by_cloud_up  # a leader and two current followers

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
            "STREAM_REPLICAS": str(wanted),  # 3 as the Copilot manifest sets it in the cloud
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


def test_the_twin_offers_the_tiers_the_server_holds(stack: HttpStack) -> None:
    """R1 on one server; R1 and R3 on the cluster, where an account asked for without limits
    gets both tiers (R3 with max_bytes required, as Synadia Cloud's) and a bucket of two replicas
    is refused in words with the document's 400 (one server's refusals: test_controlplane.py)."""
    offered = ["R1", "R3"] if replicas(stack) == 3 else ["R1"]
    with twin(stack) as api:
        (team,) = api.teams()
        (system,) = api.systems(team.id)
        assert system.jetstream_tiers == offered
        account = api.create_account(system.id, AccountCreateRequest(name="TIERED"))
        try:
            assert account.jwt is not None
            tiered = decode_claims(account.jwt)["nats"]["limits"]["tiered_limits"]
            assert sorted(tiered) == offered
            assert all(tier["max_bytes_required"] for tier in tiered.values())
            two = KvBucketConfig(bucket="two", storage="file", max_bytes=1024, num_replicas=2)
            with pytest.raises(ControlPlaneError) as refused:
                api.create_kv_bucket(account.id, two)
            assert refused.value.status == 400
            assert f"this system offers {' and '.join(offered)} only" in str(refused.value)
            top = int(offered[-1].removeprefix("R"))
            made = api.create_kv_bucket(
                account.id,
                KvBucketConfig(bucket="top", storage="file", max_bytes=1024, num_replicas=top),
            )
            assert made.config.num_replicas == top  # the server's own STREAM.INFO, through the API
        finally:
            api.delete_account(account.id)


async def jetstream_through(url: str, creds: str, stream: str, replicas: int) -> int:
    """Through one node only: the account's JetStream, an R`replicas` stream made there, and a
    publish it acknowledges; the stream's messages."""
    nc = await nats.connect(
        url, user_credentials=RawCredentials(creds), connect_timeout=5, max_reconnect_attempts=0
    )
    try:
        js = nc.jetstream()
        await js.account_info()
        await js.add_stream(
            name=stream, subjects=[f"{stream}.>"], num_replicas=replicas, max_bytes=1024 * 1024
        )
        await js.publish(f"{stream}.x", b"1")
        return (await js.stream_info(stream)).state.messages
    finally:
        await nc.close()


def test_a_twin_made_account_is_usable_at_once_through_every_node(stack: HttpStack) -> None:
    """Every node has the account the moment the twin answers: each node's client, the first of
    the account there, uses its JetStream and makes a stream of the top tier at once (a node
    without the account's JetStream would refuse its replica with 10039). Each node fetches an
    account it lacks when a client or a stream's placement first needs it, so the twin need not
    wait for the others (45 accounts, each used through one node or all three at once: no
    refusal, under a load of 10 on two cores)."""
    top = replicas(stack)
    servers = stack.servers.split(",")
    with twin(stack) as api:
        (team,) = api.teams()
        (system,) = api.systems(team.id)
        account = api.create_account(system.id, AccountCreateRequest(name="ATONCE"))
        try:
            (group,) = api.signing_key_groups(account.id)
            everything = Permission(allow=[">"])
            settings = UserJwtSettings(pub=everything, sub=everything)
            user = api.create_user(
                account.id,
                NatsUserCreateRequest(name="user", sk_group_id=group.id, jwt_settings=settings),
            )
            creds = api.creds(user.id)

            async def every_node() -> list[int]:
                return await asyncio.gather(
                    *(
                        jetstream_through(url, creds, f"NODE{index}", top)
                        for index, url in enumerate(servers, start=1)
                    )
                )

            assert asyncio.run(every_node()) == [1] * len(servers)
        finally:
            api.delete_account(account.id)


def test_a_node_down_leaves_the_cluster_offering_r3(stack: HttpStack) -> None:
    """The tier is the cluster's shape, not its health: with a node killed, the server's report
    still gives R3 (asked fresh here, without the twin's minute-long keeping); `up` restarts it."""
    if replicas(stack) != 3:
        pytest.skip("a node of the cluster; one server's tiers: test_controlplane.py")
    keys = json.loads((Path(stack.env["STACK_DIR"]) / "security" / "keys.json").read_text())
    (killed,) = [c["pid"] for c in status(stack)["components"] if c["name"] == "nats-3"]
    os.kill(killed, signal.SIGKILL)
    wait_gone(killed)

    async def offered_now() -> tuple[str, ...]:
        server = ServerSide(
            stack.servers,
            identity_from_seed(keys["operator"]),
            identity_from_seed(keys["system"]),
            new_identity("user"),
        )
        try:
            return tiers.offered(await server.jetstream_report())
        finally:
            await server.close()

    try:
        assert asyncio.run(offered_now()) == ("R1", "R3")
    finally:
        restarted = invoke(stack.env, "up")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
