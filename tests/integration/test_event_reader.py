"""The data platform's seat: the `reader` user reads the recorded answers with consumers of its
own (`invoke events`, a durable pull consumer with acks) and is refused everything else."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from devkit.caller import call_once
from service import names
from tests.support.commands import ROOT, invoke
from tests.support.gateway import HttpStack, http_stack
from tests.support.permissions import Probe, Watched, watched

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpStack]:
    with http_stack("native", tmp_path_factory.mktemp("reader") / "stack") as running:
        yield running


def creds(stack: HttpStack, user: str) -> Path:
    return Path(stack.env["STACK_DIR"]) / "creds" / f"{user}.creds"


def ask(stack: HttpStack, *client_ids: str) -> None:
    async def each() -> None:
        for client_id in client_ids:
            reply = await call_once(stack.nats_url, client_id, creds=creds(stack, "client"))
            assert reply.ok, reply.describe()

    asyncio.run(each())


def events(stack: HttpStack, *args: str) -> list[dict[str, object]]:
    done = invoke(stack.env, "events", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_events_prints_the_newest_answers_as_json_lines(stack: HttpStack) -> None:
    ask(stack, "11", "12", "13", "14", "15")
    newest = events(stack, "--last", "3")
    assert [e["client_id"] for e in newest] == ["13", "14", "15"]
    sequences = [int(str(e["seq"])) for e in newest]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    for event in newest:
        assert event["subject"] == names.event_subject(str(event["client_id"]))
        assert isinstance(event["balance"], int)
        assert {"served_at", "service_id"} <= set(event)

    ask(stack, "777", "778", "777")
    only = events(stack, "--client-id", "777", "--last", "10")
    assert [e["client_id"] for e in only] == ["777", "777"]
    assert events(stack, "--client-id", "999", "--last", "10") == []
    assert events(stack, "--last", "0") == []


def test_follow_prints_new_events_until_ctrl_c(stack: HttpStack) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "invoke", "events", "--last", "0", "--follow"],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    watch = selectors.DefaultSelector()
    watch.register(follower.stdout, selectors.EVENT_READ)
    line = ""
    deadline = time.monotonic() + 30
    try:
        while not line and time.monotonic() < deadline:  # until the follower is up and sees one
            ask(stack, "321")
            if watch.select(timeout=1):
                line = follower.stdout.readline()
        assert json.loads(line)["client_id"] == "321"
    finally:
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=20)
    assert follower.returncode == 0, err
    assert "Traceback" not in err


def test_bad_input_is_one_line(stack: HttpStack) -> None:
    bad_id = invoke(stack.env, "events", "--client-id", "a b")
    assert bad_id.returncode == 2
    assert bad_id.stderr.startswith("error: --client-id 'a b' is not a customer id")
    assert bad_id.stderr.count("\n") == 1
    negative = invoke(stack.env, "events", "--last", "-1")
    assert negative.returncode != 0
    assert "--last" in negative.stderr
    assert "Traceback" not in negative.stderr
    no_context = invoke(
        {**stack.env, "XDG_CONFIG_HOME": str(Path(stack.env["STACK_DIR"]) / "nowhere")},
        "events",
        "--context",
        "cloud-reader",
    )
    assert no_context.returncode == 1
    assert "no readable NATS context 'cloud-reader'" in no_context.stderr


def test_the_local_reader_context_reads_the_events(stack: HttpStack) -> None:
    config_home = Path(stack.env["STACK_DIR"]) / "config"
    env = {**stack.env, "XDG_CONFIG_HOME": str(config_home)}
    assert invoke(env, "context").returncode == 0
    context = json.loads((config_home / "nats" / "context" / "local-reader.json").read_text())
    assert context["creds"] == str(creds(stack, "reader"))
    assert os.stat(config_home / "nats" / "context" / "local-reader.json").st_mode & 0o077 == 0
    ask(stack, "42")
    (event,) = [
        json.loads(x)
        for x in invoke(
            env, "events", "--context", "local-reader", "--last", "1"
        ).stdout.splitlines()
    ]
    assert event["client_id"] == "42"


async def _as_reader(stack: HttpStack) -> Watched:
    return await watched(stack.nats_url, str(creds(stack, "reader")))


def test_the_reader_uses_a_durable_pull_consumer_with_acks(stack: HttpStack) -> None:
    ask(stack, "500")

    async def consume() -> None:
        reader = await _as_reader(stack)
        js = reader.nc.jetstream()
        config = ConsumerConfig(durable_name="data-platform", ack_policy=AckPolicy.EXPLICIT)
        subscription = await js.pull_subscribe(
            f"{names.EVENT_SUBJECT_PREFIX}.>",
            durable="data-platform",
            config=config,
            stream=names.STREAM_NAME,
        )
        batch = await subscription.fetch(10, timeout=5)
        assert batch
        for msg in batch:
            await msg.ack_sync(timeout=5)
        info = await js.consumer_info(names.STREAM_NAME, "data-platform")
        assert info.ack_floor.stream_seq >= batch[-1].metadata.sequence.stream
        await js.delete_consumer(names.STREAM_NAME, "data-platform")
        assert reader.errors == []
        await reader.nc.close()

    asyncio.run(consume())


def test_the_reader_is_refused_everything_else(stack: HttpStack) -> None:
    stream, kv = names.STREAM_NAME, f"KV_{names.KV_BUCKET}"

    async def verdicts() -> dict[str, bool]:
        reader = await _as_reader(stack)
        nc = reader.nc
        probes: dict[str, Probe] = {
            "ask for a balance": lambda: nc.publish(names.REQUEST_SUBJECT, b'{"client_id":"1"}'),
            "serve balances": lambda: nc.subscribe(names.REQUEST_SUBJECT),
            "forge an event": lambda: nc.publish(names.event_subject("1"), b"{}"),
            "discover the service": lambda: nc.publish("$SRV.PING", b""),
            "write the config bucket": lambda: nc.publish(f"$KV.{names.KV_BUCKET}.x", b"1"),
            "read the config bucket": lambda: nc.publish(f"$JS.API.STREAM.MSG.GET.{kv}", b"{}"),
            "consume the config bucket": lambda: nc.publish(f"$JS.API.CONSUMER.CREATE.{kv}", b""),
            "read a stored event directly": lambda: nc.publish(
                f"$JS.API.STREAM.MSG.GET.{stream}", b'{"seq":1}'
            ),
            "delete an event": lambda: nc.publish(f"$JS.API.STREAM.MSG.DELETE.{stream}", b""),
            "purge the stream": lambda: nc.publish(f"$JS.API.STREAM.PURGE.{stream}", b""),
            "change the stream": lambda: nc.publish(f"$JS.API.STREAM.UPDATE.{stream}", b""),
            "delete the stream": lambda: nc.publish(f"$JS.API.STREAM.DELETE.{stream}", b""),
            "make a stream": lambda: nc.publish("$JS.API.STREAM.CREATE.mine", b""),
            "list the streams": lambda: nc.publish("$JS.API.STREAM.LIST", b""),
            "look at its stream (allowed)": lambda: nc.publish(
                f"$JS.API.STREAM.INFO.{stream}", b""
            ),
        }
        refused = await reader.refused(probes)
        await nc.close()
        return refused

    refused = asyncio.run(verdicts())
    allowed = [probe for probe, no in refused.items() if not no]
    assert allowed == ["look at its stream (allowed)"]  # the probe tells the two apart


def test_a_consumer_aimed_at_the_service_makes_it_do_nothing(stack: HttpStack) -> None:
    """Consumer permissions cannot say where a push consumer delivers, so the reader can aim
    one at `customer.balance` in the service's queue group (nats-server allows it). Each event
    would arrive as a request, replying to `$JS.ACK...`; the service treats a stream's
    delivery as no request at all: no read, no event, no reply."""
    ask(stack, "600", "601")

    async def aim() -> tuple[int, int]:
        reader = await _as_reader(stack)
        js = reader.nc.jetstream()
        before = (await js.stream_info(names.STREAM_NAME)).state.messages
        await js.add_consumer(
            names.STREAM_NAME,
            ConsumerConfig(
                name="aimed",
                deliver_subject=names.REQUEST_SUBJECT,
                deliver_group=names.QUEUE_GROUP,
                filter_subject=f"{names.EVENT_SUBJECT_PREFIX}.>",
            ),
        )
        for _ in range(40):  # the deliveries reach the service at once; bounded
            info = await js.consumer_info(names.STREAM_NAME, "aimed")
            if info.delivered.stream_seq >= before:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time for any answer's event to be stored
        after = (await js.stream_info(names.STREAM_NAME)).state.messages
        await js.delete_consumer(names.STREAM_NAME, "aimed")
        await reader.nc.close()
        return before, after

    before, after = asyncio.run(aim())
    assert before >= 2
    assert after == before  # was: one new event per delivery, each delivered again
