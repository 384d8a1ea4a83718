"""The control-plane client and the original's three commands against the local twin, which
`invoke up` starts: real accounts on the real server, every answer checked against the
published document, every error status one line, retries on 429 and 5xx only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError

from devkit.auth.jwt import decode_claims
from devkit.auth.permissions import MIB, jetstream_limits
from devkit.controlplane.client import ATTEMPTS, ControlPlane, ControlPlaneError
from devkit.controlplane.models import (
    AccountCreateRequest,
    AccountJwtSettings,
    KvBucketConfig,
    NatsUserCreateRequest,
    Permission,
    StreamConfig,
    UserJwtSettings,
)
from tests.support import commands
from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, http_stack
from tests.support.openapi import CheckedTransport, PublishedDocument, published_document
from tests.support.users import connect_user

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with http_stack("native", tmp_path_factory.mktemp("controlplane") / "stack") as running:
        yield running


def twin_url(stack: HttpStack) -> str:
    return f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}"


def twin_token(stack: HttpStack) -> str:
    return (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text().strip()


def inject(stack: HttpStack, **rule: object) -> None:
    """Tell the twin to fail calls: {method, path (a glob after /api), status, times, ...}."""
    answer = httpx.post(
        f"{twin_url(stack)}/twin/faults",
        json=rule,
        headers={"Authorization": f"Bearer {twin_token(stack)}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def document() -> PublishedDocument:
    return published_document()


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def api(
    stack: HttpStack, document: PublishedDocument, waits: list[float]
) -> Iterator[ControlPlane]:
    client = ControlPlane(
        twin_url(stack), twin_token(stack), transport=CheckedTransport(document), sleep=waits.append
    )
    yield client
    httpx.delete(
        f"{twin_url(stack)}/twin/faults",
        headers={"Authorization": f"Bearer {twin_token(stack)}"},
        timeout=10,
    )
    client.close()


def only_system(api: ControlPlane) -> str:
    (team,) = api.teams()
    (system,) = api.systems(team.id)
    return system.id


def test_the_originals_commands_with_their_failure_modes_fixed(
    stack: HttpStack, tmp_path: Path
) -> None:
    env = stack.env
    assert "no accounts" in invoke(env, "cp-list", "--api-url", "local").stdout
    created = invoke(env, "cp-create", "--name", "POC-AB", "--api-url", "local")
    assert created.returncode == 0, created.stderr
    assert "Created account POC-AB" in created.stdout

    again = invoke(env, "cp-create", "--name", "POC-AB", "--api-url", "local")
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: an account named POC-AB already exists")
    assert again.stderr.count("\n") == 1  # one line, no traceback
    assert invoke(env, "cp-list", "--api-url", "local").stdout.count("POC-AB") == 1

    token_file = tmp_path / "token"
    token_file.write_text(f"  {twin_token(stack)}  \n\n")  # the original sent this untrimmed
    listed = invoke(env, "cp-list", "--api-url", twin_url(stack), "--token-file", str(token_file))
    assert "POC-AB" in listed.stdout, listed.stderr

    deleted = invoke(env, "cp-delete", "--name", "POC-AB", "--api-url", "local")
    assert "Deleted account POC-AB" in deleted.stdout, deleted.stderr
    gone = invoke(env, "cp-delete", "--name", "POC-AB", "--api-url", "local")
    assert gone.returncode == 1
    assert "error: no account named POC-AB" in gone.stderr


def test_a_missing_or_wrong_token_is_one_clear_line(stack: HttpStack, tmp_path: Path) -> None:
    env = stack.env
    missing = invoke(env, "cp-list", "--api-url", "local", "--token-file", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr == f"error: the token file {tmp_path / 'nope'} does not exist\n"

    wrong = tmp_path / "wrong-token"
    wrong.write_text("uat_wrong")
    refused = invoke(env, "cp-list", "--api-url", "local", "--token-file", str(wrong))
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
    assert "/api/core/beta/teams" in refused.stderr
    # The cloud's token in the environment is never sent to the twin: its own token is used.
    kept = invoke({**env, "SYNADIA_TOKEN": "uat_the-clouds"}, "cp-list", "--api-url", "local")
    assert kept.returncode == 0, kept.stderr

    nowhere = invoke(
        {**env, "SYNADIA_TOKEN": "uat_x"}, "cp-list", "--api-url", "http://127.0.0.1:1"
    )
    assert nowhere.returncode == 1
    assert "cannot reach the control-plane API at http://127.0.0.1:1" in nowhere.stderr

    no_token = invoke(env, "cp-list")  # the real cloud, and no token: nothing is sent
    assert no_token.returncode == 2
    assert "set SYNADIA_TOKEN or pass --token-file" in no_token.stderr


async def _connect(stack: HttpStack, creds: str) -> Client:
    return await connect_user(
        stack.nats_url,
        creds,
        raw=True,
        allow_reconnect=False,
        max_reconnect_attempts=1,
        connect_timeout=3,
    )


def test_what_the_twin_makes_is_real_on_the_server(
    stack: HttpStack, api: ControlPlane, document: PublishedDocument
) -> None:
    system = only_system(api)
    account = api.create_account(system, AccountCreateRequest(name="REAL"))
    (group,) = api.signing_key_groups(account.id)
    settings = UserJwtSettings(
        pub=Permission(allow=["orders.>", "$JS.API.>", "$KV.config.>"]),
        sub=Permission(allow=["_INBOX.>"]),
    )
    user = api.create_user(
        account.id,
        NatsUserCreateRequest(name="worker", sk_group_id=group.id, jwt_settings=settings),
    )
    assert [u.name for u in api.users(account.id)] == ["worker"]
    bucket = api.create_kv_bucket(
        account.id, KvBucketConfig(bucket="config", storage="file", max_bytes=1024 * 1024)
    )
    stream = api.create_stream(account.id, stream_config("orders", ["orders.>"]))
    creds = api.creds(user.id)

    async def use_it() -> None:
        nc = await _connect(stack, creds)
        js = nc.jetstream()
        acknowledged = await js.publish("orders.1", b"first")  # the stream the API made
        assert acknowledged.stream == "orders"
        kv = await js.key_value("config")  # the bucket the API made
        await kv.put("greeting", b"hello")
        assert (await kv.get("greeting")).value == b"hello"
        with pytest.raises(NatsError):  # outside its permissions, the server refuses
            await nc.request("elsewhere", b"", timeout=2)
        await nc.close()

    asyncio.run(use_it())
    assert api.kv_buckets(account.id)[0].num_values == 1
    assert api.streams(account.id)[0].state.messages == 1

    with pytest.raises(ControlPlaneError, match=r"HTTP 400.*already exists"):  # JetStream would not
        api.create_stream(account.id, stream_config("orders", ["orders.>"]))
    with pytest.raises(ControlPlaneError, match=r"HTTP 400.*max bytes"):  # the server's own rule
        api.create_stream(account.id, stream_config("nolimit", ["nolimit.>"], max_bytes=-1))

    api.delete_stream(stream.id)
    api.delete_kv_bucket(bucket.id)
    assert api.streams(account.id) == []
    api.delete_user(user.id)

    async def refused() -> None:
        with pytest.raises((NatsError, OSError)):
            await _connect(stack, creds)

    asyncio.run(refused())
    api.delete_account(account.id)
    assert api.accounts(system) == []
    operations = {(method, template) for method, template, _ in document.checked}
    assert len(operations) == 16, operations  # every answer above, checked against the document


def stream_config(name: str, subjects: list[str], *, max_bytes: int = 1024 * 1024) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=subjects,
        retention="limits",
        storage="file",
        discard="old",
        max_age=0,
        max_bytes=max_bytes,
        max_msgs=-1,
        max_msgs_per_subject=-1,
        max_consumers=-1,
        num_replicas=1,
        allow_direct=False,
        allow_rollup_hdrs=False,
        deny_delete=False,
        deny_purge=False,
        sealed=False,
    )


def test_one_server_offers_r1_only_and_refuses_r3_with_the_documents_status(
    api: ControlPlane, document: PublishedDocument
) -> None:
    """A single nats-server quietly makes one replica of `num_replicas: 3`; the twin of a system
    without the R3 tier refuses it with the 400 the document gives each create. (The cluster's
    tiers: test_cloud_rehearsal.py, which runs on both.)"""
    if commands.NATS_NODES != 1:
        pytest.skip("the cluster offers R3 (--nats-nodes 3)")
    (team,) = api.teams()
    (found,) = api.systems(team.id)
    assert found.jetstream_tiers == ["R1"]  # the answer was judged against the document
    system = found.id
    r3_limits = jetstream_limits(disk_bytes=MIB, memory_bytes=0)
    account = api.create_account(system, AccountCreateRequest(name="TIERS"))
    assert account.jwt is not None
    assert set(decode_claims(account.jwt)["nats"]["limits"]["tiered_limits"]) == {"R1"}
    refused: dict[str, Callable[[], object]] = {
        "bucket": lambda: api.create_kv_bucket(
            account.id,
            KvBucketConfig(bucket="config", storage="file", max_bytes=1024, num_replicas=3),
        ),
        "stream": lambda: api.create_stream(
            account.id,
            stream_config("orders", ["orders.>"]).model_copy(update={"num_replicas": 3}),
        ),
        "account": lambda: api.create_account(
            system,
            AccountCreateRequest(
                name="TIERS-R3",
                jwt_settings=AccountJwtSettings(limits={"tiered_limits": {"R3": r3_limits}}),
            ),
        ),
    }
    for what, create in refused.items():
        with pytest.raises(ControlPlaneError) as failed:
            create()
        assert failed.value.status == 400, what
        assert "this system offers R1 only" in str(failed.value), what
    assert api.kv_buckets(account.id) == []
    assert api.streams(account.id) == []
    assert [a.name for a in api.accounts(system)] == ["TIERS"]
    api.delete_account(account.id)
    refusals = {
        ("POST", "/core/beta/accounts/{accountId}/jetstream/kv-buckets", 400),
        ("POST", "/core/beta/accounts/{accountId}/jetstream/streams", 400),
        ("POST", "/core/beta/systems/{systemId}/accounts", 400),
    }
    assert refusals <= set(document.checked)  # each a status the document declares for it


def test_a_gateway_token_from_the_twin_works_against_the_local_gateway(
    stack: HttpStack, api: ControlPlane
) -> None:
    account = api.create_account(only_system(api), AccountCreateRequest(name="GW"))
    (group,) = api.signing_key_groups(account.id)
    settings = UserJwtSettings(pub=Permission(allow=["allowed.>"]))
    user = api.create_user(
        account.id,
        NatsUserCreateRequest(name="poster", sk_group_id=group.id, jwt_settings=settings),
    )
    token = api.gateway_token(user.id)
    headers = {"Authorization": token}
    allowed = httpx.put(stack.subjects("allowed.x"), content=b"hi", headers=headers, timeout=10)
    assert allowed.status_code == 200, allowed.text
    denied = httpx.put(stack.subjects("denied.x"), content=b"hi", headers=headers, timeout=10)
    assert denied.status_code == 403
    api.delete_account(account.id)


def test_every_error_status_is_one_line_with_status_path_and_body(
    stack: HttpStack, api: ControlPlane
) -> None:
    system = only_system(api)
    with pytest.raises(ControlPlaneError) as not_found:
        api.account("no-such-account")
    assert str(not_found.value).startswith("GET /api/core/beta/accounts/no-such-account: HTTP 404")

    for status in (401, 403, 409, 422):
        inject(
            stack, method="GET", path="/core/beta/systems/*/accounts", status=status, body="nope"
        )
        with pytest.raises(ControlPlaneError) as failed:
            api.accounts(system)
        message = str(failed.value)
        assert f"HTTP {status}" in message
        assert f"/api/core/beta/systems/{system}/accounts" in message
        assert message.endswith(": nope")
        assert "\n" not in message
        assert failed.value.status == status


def test_429_and_5xx_are_retried_and_nothing_else(
    stack: HttpStack, api: ControlPlane, waits: list[float]
) -> None:
    system = only_system(api)
    inject(stack, method="GET", path="/core/beta/systems/*/accounts", status=503, times=2)
    inject(stack, method="GET", path="/core/beta/systems/*/accounts", status=429, retry_after_s=3)
    assert api.accounts(system) == []  # the fourth attempt answered
    assert waits == [0.5, 1.0, 3.0]  # backoff, and the server's Retry-After when longer

    waits.clear()
    inject(stack, method="GET", path="/core/beta/systems/*/accounts", status=500, times=ATTEMPTS)
    with pytest.raises(ControlPlaneError, match="HTTP 500"):
        api.accounts(system)
    assert len(waits) == ATTEMPTS - 1

    waits.clear()
    inject(stack, method="POST", path="/core/beta/systems/*/accounts", status=400)
    with pytest.raises(ControlPlaneError, match="HTTP 400"):
        api.create_account(system, AccountCreateRequest(name="ONCE"))
    assert waits == []  # a 400 is final
    assert api.accounts(system) == []
