"""Operator-mode NATS like Synadia Cloud: JWT users, least privilege, max_bytes required."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, KeyNotFoundError

from devkit import platform_names
from devkit.auth.jwt import encode, format_creds, identity_from_seed, new_identity, user_claims
from devkit.auth.permissions import CLIENT_PERMISSIONS
from devkit.auth.security import ensure_security
from devkit.caller import call_once
from service import names
from tests.integration.conftest import SecureNats
from tests.support.replicas import ServiceProcess, launch_service
from tests.support.users import connect_user

pytestmark = pytest.mark.integration


class Violations:
    """Collects the asynchronous permission errors the server sends a client."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def wait_for(self, text: str, timeout_s: float = 5) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for error in self.errors:
                if text.lower() in error.lower():
                    return error
            await asyncio.sleep(0.05)
        raise AssertionError(f"no error containing {text!r}; got {self.errors}")


@pytest.fixture
async def as_client(secure_nats: SecureNats) -> AsyncIterator[tuple[Client, Violations]]:
    violations = Violations()
    client = await connect_user(
        secure_nats.url,
        secure_nats.material.client_creds,
        error_cb=violations.record,
        allow_reconnect=False,
    )
    yield client, violations
    await client.close()


async def test_the_service_answers_an_authenticated_client(
    secure_service: ServiceProcess, secure_nats: SecureNats
) -> None:
    reply = await call_once(secure_nats.url, "678", creds=secure_nats.material.client_creds)
    assert reply.ok, reply.describe()
    assert reply.data.startswith(b'{"balance":')


async def test_a_client_without_credentials_is_rejected(secure_nats: SecureNats) -> None:
    with pytest.raises((NatsError, OSError)):
        await nats.connect(secure_nats.url, allow_reconnect=False, connect_timeout=2)


async def test_credentials_from_another_operator_are_rejected(
    secure_nats: SecureNats, tmp_path: Path
) -> None:
    stranger = ensure_security(tmp_path / "elsewhere")
    with pytest.raises((NatsError, OSError)):
        await nats.connect(
            secure_nats.url,
            user_credentials=str(stranger.client_creds),
            allow_reconnect=False,
            connect_timeout=2,
        )


async def test_the_client_cannot_impersonate_the_service(
    as_client: tuple[Client, Violations],
) -> None:
    client, violations = as_client
    await client.subscribe(names.REQUEST_SUBJECT, queue=names.QUEUE_GROUP)
    error = await violations.wait_for("permissions violation for subscription")
    assert f'"{names.REQUEST_SUBJECT}"' in error
    violations.errors.clear()
    await client.subscribe(names.REQUEST_SUBJECT)
    await violations.wait_for("permissions violation for subscription")


async def test_the_client_cannot_read_the_config_bucket(
    as_client: tuple[Client, Violations], secure_service: ServiceProcess
) -> None:
    client, violations = as_client
    with pytest.raises(NatsError):
        await client.jetstream(timeout=1).key_value(names.KV_BUCKET)
    await violations.wait_for(f"KV_{names.KV_BUCKET}")


async def test_the_client_cannot_delete_the_stream(
    as_client: tuple[Client, Violations], secure_service: ServiceProcess
) -> None:
    client, violations = as_client
    with pytest.raises(NatsError):
        await client.jetstream(timeout=1).delete_stream(names.STREAM_NAME)
    await violations.wait_for(f"STREAM.DELETE.{names.STREAM_NAME}")


async def test_the_peer_reads_the_seed_key_and_changes_nothing(
    secure_nats: SecureNats, secure_service: ServiceProcess
) -> None:
    """The original, run beside this service by `bench --peer`, gets what it uses and no more."""
    violations = Violations()
    peer = await connect_user(
        secure_nats.url,
        secure_nats.material.creds[platform_names.PEER_USER],
        error_cb=violations.record,
        allow_reconnect=False,
    )
    try:
        bucket = await peer.jetstream(timeout=2).key_value(names.KV_BUCKET)  # nats.go's calls
        with pytest.raises(KeyNotFoundError):
            await bucket.get("no-such-key")
        answer = await peer.request(names.REQUEST_SUBJECT, b'{"client_id":"678"}', timeout=5)
        assert json.loads(answer.data)["balance"] >= 0
        with pytest.raises(NatsError):
            await peer.jetstream(timeout=1).delete_stream(names.STREAM_NAME)
        await violations.wait_for(f"STREAM.DELETE.{names.STREAM_NAME}")
        await peer.subscribe(f"{names.private_inbox_prefix(platform_names.CLIENT_USER)}.>")
        await violations.wait_for("permissions violation for subscription")
    finally:
        await peer.close()


async def test_a_stream_without_max_bytes_is_refused_like_in_the_cloud(
    secure_nats: SecureNats,
) -> None:
    nc = await connect_user(secure_nats.url, secure_nats.material.service_creds)
    try:
        with pytest.raises(BadRequestError) as refused:
            await nc.jetstream().add_stream(
                StreamConfig(name=names.STREAM_NAME, subjects=list(names.STREAM_SUBJECTS))
            )
        assert refused.value.err_code == 10113
    finally:
        await nc.close()


def test_an_expired_user_jwt_exits_2_before_connecting(
    secure_nats: SecureNats, tmp_path: Path
) -> None:
    seeds = json.loads((secure_nats.root / "security" / "keys.json").read_text())
    account, user = identity_from_seed(seeds["application"]), new_identity("user")
    token = encode(
        user_claims(user, "service", CLIENT_PERMISSIONS, expires_at=int(time.time()) - 3600),
        account,
    )
    creds = base64.b64encode(format_creds(token, user).encode()).decode()
    service = launch_service(
        tmp_path,
        "expired",
        {
            "NATS_URL": secure_nats.url,
            "NATS_CREDENTIALS": creds,
            "DDB_TABLE": "anything",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        },
    )
    assert service.process.wait(timeout=30) == 2
    output = service.log_path.read_text().strip().splitlines()
    assert output == [output[0]]
    assert "expired" in output[0]
    assert "NATS_CREDENTIALS" in output[0]
