"""`/v1/kv/{bucket}/{key}`: read, create, put or compare-and-set, delete, as the cloud gateway
does (nats.md section 4.3): 404 for a missing key, 409 for a key that exists or a revision that
moved on."""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from typing import TypeVar

import orjson
from aiohttp import web
from nats.errors import TimeoutError
from nats.js.api import Header
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from devkit.gateway.callers import query_value
from devkit.gateway.connections import UserConnection
from devkit.gateway.errors import GatewayError
from devkit.gateway.messaging import wants_json
from devkit.gateway.payloads import read_fitting
from devkit.gateway.subjects import check_key, check_name, flag, whole

_Result = TypeVar("_Result")
MAX_REVISION = 2**63 - 1


async def _guarded(connection: UserConnection, bucket: str, work: Awaitable[_Result]) -> _Result:
    """Work on a bucket, with the server's denial of its JetStream subjects as a 403."""

    def touches(subject: str) -> bool:
        lowered = bucket.lower()
        return f"kv_{lowered}" in subject or subject.startswith(f"$kv.{lowered}.")

    try:
        return await connection.verdicts.checked(work, kind="publish", subject=None, claims=touches)
    except BucketNotFoundError:
        raise GatewayError(404, f"no bucket {bucket}") from None
    except TimeoutError:
        raise GatewayError(504, f"JetStream did not answer for bucket {bucket}") from None


async def _bucket(request: web.Request, connection: UserConnection) -> tuple[KeyValue, str, str]:
    bucket = check_name("bucket", request.match_info["bucket"])
    key = check_key(request.match_info["key"])
    kv = await _guarded(connection, bucket, connection.nc.jetstream(timeout=2).key_value(bucket))
    return kv, bucket, key


async def get_entry(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    kv, bucket, key = await _bucket(request, connection)
    revision = whole(
        "revision", query_value(request, "revision"), default=None, low=1, high=MAX_REVISION
    )
    try:
        entry = await _guarded(connection, bucket, kv.get(key, revision=revision))
    except (KeyNotFoundError, KeyDeletedError):
        raise GatewayError(404, f"no key {key} in bucket {bucket}") from None
    value = entry.value or b""
    operation = "PUT"  # a get never returns a deleted entry (KeyDeletedError above)
    if wants_json(request):
        document = {
            "bucket": bucket,
            "key": key,
            "revision": entry.revision,
            "delta": entry.delta or 0,
            "operation": operation,
            "value": base64.b64encode(value).decode(),
        }
        return web.Response(body=orjson.dumps(document), content_type="application/json")
    headers = {
        "X-Nats-Kv-Bucket": bucket,
        "X-Nats-Kv-Revision": str(entry.revision),
        "X-Nats-Kv-Delta": str(entry.delta or 0),
        "X-Nats-Kv-Operation": operation,
    }
    return web.Response(body=value, headers=headers, content_type="application/octet-stream")


async def _value(request: web.Request, connection: UserConnection, previous: int | None) -> bytes:
    """The body, if it fits with the header a create or compare-and-set adds (see payloads)."""
    expected = Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value
    headers = None if previous is None else {expected: str(previous)}
    return await read_fitting(request, connection.nc, headers)


async def create_entry(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    kv, bucket, key = await _bucket(request, connection)
    value = await _value(request, connection, previous=0)
    try:
        revision = await _guarded(connection, bucket, kv.create(key, value))
    except KeyWrongLastSequenceError:
        raise GatewayError(409, f"key {key} exists in bucket {bucket}") from None
    return _revision(revision)


async def put_entry(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    kv, bucket, key = await _bucket(request, connection)
    previous = whole(
        "previousRevision",
        query_value(request, "previousRevision"),
        default=None,
        low=0,
        high=MAX_REVISION,
    )
    value = await _value(request, connection, previous)
    try:
        if previous is None:
            revision = await _guarded(connection, bucket, kv.put(key, value))
        else:
            revision = await _guarded(connection, bucket, kv.update(key, value, last=previous))
    except KeyWrongLastSequenceError:
        raise GatewayError(409, f"key {key} is not at revision {previous}") from None
    return _revision(revision)


async def delete_entry(request: web.Request, connection: UserConnection) -> web.StreamResponse:
    purge = flag("purge", query_value(request, "purge"))
    kv, bucket, key = await _bucket(request, connection)
    if purge:
        await _guarded(connection, bucket, kv.purge(key))
    else:
        await _guarded(connection, bucket, kv.delete(key))
    return web.Response(status=200)


def _revision(revision: int) -> web.Response:
    return web.Response(
        status=201,
        body=orjson.dumps(revision),
        content_type="application/json",
        headers={"X-Nats-Kv-Sequence": str(revision)},
    )
