"""Every answered request is recorded in the `customer-balances` stream, and nothing else is."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import nats
import pytest
from nats.aio.client import Client

from devkit.stack.stream import stream_usage
from service import names
from service.protocol import decode_reply, timeout_headers
from tests.support.messages import request_payload
from tests.support.replicas import ServiceFactory
from tests.support.servers import NatsServer

pytestmark = pytest.mark.integration


async def test_one_event_per_answered_request(start_service: ServiceFactory, nc: Client) -> None:
    service = start_service()
    ids = [str(i) for i in range(1, 31)]
    answers = await asyncio.gather(
        *(nc.request(names.REQUEST_SUBJECT, request_payload(i), timeout=5) for i in ids)
    )
    failures = await asyncio.gather(
        nc.request(names.REQUEST_SUBJECT, request_payload("unknown-id"), timeout=5),
        nc.request(names.REQUEST_SUBJECT, b"garbage", timeout=5),
    )
    assert not any(decode_reply(f.data, f.headers).ok for f in failures)

    js = nc.jetstream()
    info = await js.stream_info(names.STREAM_NAME)
    assert info.state.messages == len(ids)

    balances = {i: json.loads(a.data)["balance"] for i, a in zip(ids, answers, strict=True)}
    seen_ids = set()
    for sequence in range(1, len(ids) + 1):
        stored = await js.get_msg(names.STREAM_NAME, sequence)
        event = json.loads(stored.data or b"")
        assert set(event) == {"client_id", "balance", "served_at", "service_id"}
        assert stored.subject == names.event_subject(event["client_id"])
        assert event["balance"] == balances[event["client_id"]]
        offset = datetime.fromisoformat(event["served_at"]).utcoffset()
        assert offset is not None
        assert offset.total_seconds() == 0
        assert event["service_id"] == service.events_named("service.ready")[0]["service_id"]
        assert stored.headers
        assert stored.headers["Nats-Msg-Id"] not in seen_ids
        seen_ids.add(stored.headers["Nats-Msg-Id"])
    assert len(seen_ids) == len(ids)


async def test_the_stream_has_the_original_settings(
    start_service: ServiceFactory, nc: Client
) -> None:
    start_service()
    config = (await nc.jetstream().stream_info(names.STREAM_NAME)).config
    assert config.subjects == list(names.STREAM_SUBJECTS)
    assert config.storage == "file"
    assert config.discard == "old"
    assert config.max_age == names.STREAM_MAX_AGE_S
    assert config.max_bytes == names.STREAM_MAX_BYTES
    assert config.num_replicas == 1


async def test_the_stream_size_is_a_setting_and_a_full_stream_is_reported(
    start_service: ServiceFactory, nc: Client, nats_server: NatsServer
) -> None:
    """10 MiB (the original's) keeps about 43,500 events; when full, the oldest go, and
    `invoke status` says so."""
    start_service(STREAM_MAX_BYTES=str(64 * 1024))
    info = await nc.jetstream().stream_info(names.STREAM_NAME)
    assert info.config.max_bytes == 64 * 1024
    payloads = [request_payload(str(i % 1000 + 1)) for i in range(400)]
    replies = await asyncio.gather(
        *(nc.request(names.REQUEST_SUBJECT, p, timeout=5) for p in payloads)
    )
    assert all(decode_reply(r.data, r.headers).ok for r in replies)

    usage = await stream_usage(nats_server.url, None)
    assert usage is not None
    per_event = usage.bytes / usage.messages
    assert 150 < per_event < 350  # the arithmetic behind "about 43,500 in 10 MiB"
    assert usage.messages < 400  # the oldest were discarded
    assert usage.discarding
    assert "the oldest events are being discarded" in usage.describe()


async def test_a_request_whose_caller_has_gone_reads_nothing_and_records_nothing(
    start_service: ServiceFactory, nc: Client
) -> None:
    start_service()
    answered = await nc.request(
        names.REQUEST_SUBJECT, request_payload("5"), timeout=5, headers=timeout_headers(5)
    )
    assert decode_reply(answered.data, answered.headers).ok
    js = nc.jetstream()
    before = await _figures(nc)
    events_before = (await js.stream_info(names.STREAM_NAME)).state.messages

    with pytest.raises(nats.errors.TimeoutError):  # dropped: no reply at all
        await nc.request(
            names.REQUEST_SUBJECT, request_payload("6"), timeout=1, headers=timeout_headers(0)
        )
    after = await _figures(nc)
    assert after["expired"] == before["expired"] + 1
    assert (after["keys"], after["batches"]) == (before["keys"], before["batches"])  # no read
    assert (await js.stream_info(names.STREAM_NAME)).state.messages == events_before


async def _figures(nc: Client) -> dict[str, int]:
    stats = json.loads((await nc.request("$SRV.STATS.customer", b"", timeout=2)).data)
    data: dict[str, int] = stats["endpoints"][0]["data"]
    return data
