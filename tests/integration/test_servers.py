"""The servers the tests and the native stack launch take ports they choose, read back: two at
once never collide, and each answers on the port its launch reports; one that never becomes
ready is stopped, not left running."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import nats
import pytest

from devkit.stack import servers
from devkit.stack.processes import Launched, ServerError, stop_process
from devkit.stack.servers import start_moto, start_nats
from service import names

pytestmark = pytest.mark.integration


async def test_two_nats_servers_on_port_0_each_answer_on_the_ports_they_report(
    tmp_path: Path,
) -> None:
    first = start_nats(workdir=tmp_path / "first")
    try:
        second = start_nats(workdir=tmp_path / "second")
        try:
            assert len({first.port, first.monitor_port, second.port, second.monitor_port}) == 4
            for server in (first, second):
                nc = await nats.connect(server.url)
                await nc.close()
                async with httpx.AsyncClient() as http:
                    varz = (await http.get(f"{server.monitor_url}/varz")).json()
                assert varz["port"] == server.port  # served on the monitor port reported
        finally:
            stop_process(second.pid)
    finally:
        stop_process(first.pid)


def test_two_emulators_on_port_0_each_answer_on_the_port_they_report(tmp_path: Path) -> None:
    first = start_moto(workdir=tmp_path / "first")
    try:
        second = start_moto(workdir=tmp_path / "second")
        try:
            assert first.port != second.port
            for n, emulator in enumerate((first, second)):
                client = boto3.client(
                    "dynamodb",
                    endpoint_url=emulator.endpoint,
                    region_name=names.DEFAULT_REGION,
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # the emulator takes any
                )
                client.create_table(
                    TableName=f"table-{n}",
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
                assert client.list_tables()["TableNames"] == [f"table-{n}"]  # its own server
        finally:
            stop_process(second.pid)
    finally:
        stop_process(first.pid)


@pytest.mark.parametrize("start", [start_nats, start_moto])
def test_a_server_that_never_becomes_ready_is_not_left_running(
    start: Callable[..., Launched], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []

    def never_ready(url: str, *, process: subprocess.Popen[bytes], **_: object) -> None:
        started.append(process)
        raise ServerError(f"did not answer {url}")

    monkeypatch.setattr(servers, "wait_http", never_ready)
    with pytest.raises(ServerError):
        start(workdir=tmp_path)
    [process] = started
    assert process.poll() is not None
