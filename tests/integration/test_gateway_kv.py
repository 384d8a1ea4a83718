"""The local HTTP gateway's KV entries, kept as the cloud gateway keeps them: create, revisions,
conditional update, JSON view, delete, and a missing bucket."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from tests.support.gateway import HttpStack, status_of

pytestmark = pytest.mark.integration


async def test_kv_entries_as_the_cloud_gateway_keeps_them(
    gateway: HttpStack, http: aiohttp.ClientSession
) -> None:
    admin = {"Authorization": gateway.tokens["admin"]}
    entry = f"{gateway.url}/v1/kv/config/gateway.test"
    status, _, raw = await status_of(http, "POST", entry, headers=admin, data=b"one")
    assert status == 201
    first = json.loads(raw)
    assert (await status_of(http, "POST", entry, headers=admin, data=b"again"))[0] == 409
    status, headers, raw = await status_of(http, "GET", entry, headers=admin)
    assert (status, raw, headers["X-Nats-Kv-Revision"]) == (200, b"one", str(first))
    stale = f"{entry}?previousRevision={first + 100}"
    assert (await status_of(http, "PUT", stale, headers=admin, data=b"two"))[0] == 409
    status, _, raw = await status_of(
        http, "PUT", f"{entry}?previousRevision={first}", headers=admin, data=b"two"
    )
    assert status == 201
    status, _, raw = await status_of(
        http, "GET", entry, headers={**admin, "Accept": "application/json"}
    )
    assert base64.b64decode(json.loads(raw)["value"]) == b"two"
    assert (await status_of(http, "DELETE", entry, headers=admin))[0] == 200
    assert (await status_of(http, "GET", entry, headers=admin))[0] == 404
    missing_bucket = f"{gateway.url}/v1/kv/no-such-bucket/key"
    assert (await status_of(http, "GET", missing_bucket, headers=admin))[0] == 404
