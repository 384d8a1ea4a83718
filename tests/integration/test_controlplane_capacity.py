"""The local nats-server's JetStream is finite: every account reserves its limits from 1 GB of
disk and 256 MB of memory. The twin refuses, at create, an account the server would make
without JetStream (before, it answered 201 and the account could not even be deleted)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import commands
from tests.support.commands import invoke, taken_port
from tests.support.gateway import HttpStack, cloud_stack
from tests.support.openapi import CheckedTransport, published_document

pytestmark = pytest.mark.integration

DEFAULT_ACCOUNTS_THAT_FIT = 28
"""(1024 - 128) MiB of disk / 32 MiB, and (256 - 32) MiB of memory / 8 MiB, beside the stack's
own account (devkit.auth.permissions.JETSTREAM_R1_LIMITS, claims.DEFAULT_R1_LIMITS)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with cloud_stack(tmp_path_factory.mktemp("capacity")) as running:
        yield running


def test_accounts_beyond_the_servers_jetstream_are_refused_at_create(stack: HttpStack) -> None:
    if commands.NATS_NODES != 1:
        pytest.skip(
            "one server's reservation: a JetStream cluster enables an account's JetStream without"
            " reserving its limits (measured on nats-server 2.15.1: 29 default accounts made where"
            " one server holds 28) and refuses a stream it has no room for when placing it (10047)"
        )
    token = (Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token").read_text()
    with httpx.Client(
        base_url=f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}/api/core/beta",
        headers={"Authorization": f"Bearer {token.strip()}"},
        transport=CheckedTransport(published_document()),
        timeout=30,
    ) as http:
        (team,) = http.get("/teams").json()["items"]
        (system,) = http.get(f"/teams/{team['id']}/systems").json()["items"]
        accounts = f"/systems/{system['id']}/accounts"
        made = []
        for number in range(DEFAULT_ACCOUNTS_THAT_FIT + 1):
            answer = http.post(accounts, json={"name": f"FULL-{number}"})
            if answer.status_code != 201:
                break
            made.append(answer.json()["id"])
        assert len(made) == DEFAULT_ACCOUNTS_THAT_FIT
        assert answer.status_code == 400
        assert "no room for this account's JetStream" in answer.json()["message"]
        assert f"FULL-{len(made)}" not in [a["name"] for a in http.get(accounts).json()["items"]]
        up = invoke(stack.env, "cloud-up", "--account", "FULL-POC", "--api-url", "local")
        assert up.returncode == 1  # refused at the account: nothing made that could not be removed
        assert "no room for this account's JetStream" in up.stderr
        down = invoke(stack.env, "cloud-down", "--account", "FULL-POC", "--api-url", "local")
        assert down.returncode == 0, down.stderr
        assert "FULL-POC" not in [a["name"] for a in http.get(accounts).json()["items"]]
        for account_id in made:  # every account the twin made has the JetStream it promised
            assert "R1" in http.get(f"/accounts/{account_id}/info").json()["tiers"]
        for account_id in made:
            assert http.delete(f"/accounts/{account_id}").status_code == 204
        assert http.post(accounts, json={"name": "ROOM-AGAIN"}).status_code == 201
