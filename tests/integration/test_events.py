"""Every answered request is recorded in the `customer-balances` stream, and nothing else is."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest
from nats.aio.client import Client

from service import names
from service.protocol import decode_reply
from tests.support.messages import request_payload
from tests.support.replicas import ServiceFactory

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
