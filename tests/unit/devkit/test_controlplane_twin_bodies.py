"""The twin reads and shows exactly the fields the published document declares: its request
models and the field sets it filters the server's answers by are held to the document here."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from devkit.controlplane_twin import bodies, published
from tests.support.openapi import declared_properties


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (bodies.AccountCreateRequest, "AccountCreateRequest"),
        (bodies.AccountJwtSettings, "AccountJWTSettings"),
        (bodies.OperatorLimits, "OperatorLimits"),
        (bodies.JetStreamLimits, "JetStreamLimits"),
        (bodies.ExternalAuthorization, "ExternalAuthorization"),
        (bodies.WeightedMapping, "WeightedMapping"),
        (bodies.NatsUserCreateRequest, "NatsUserCreateRequest"),
        (bodies.UserJwtSettings, "NatsCreateUserJwtSettings"),
        (bodies.Permission, "Permission"),
        (bodies.ResponsePermission, "ResponsePermission"),
        (bodies.TimeRange, "TimeRange"),
        (bodies.KvBucketConfig, "JSKVBucketConfig"),
        (bodies.StreamConfig, "JSStreamConfigRequest"),
    ],
)
def test_a_request_model_reads_every_declared_field_and_no_other(
    model: type[BaseModel], schema: str
) -> None:
    assert set(model.model_fields) == declared_properties(schema)


@pytest.mark.parametrize(
    ("fields", "schema"),
    [
        (published.STREAM_INFO_FIELDS, "JSStreamInfoResponse"),
        (published.STREAM_CONFIG_FIELDS, "JSStreamConfigRequest"),
        (published.STREAM_STATE_FIELDS, "StreamState"),
        (published.CLUSTER_FIELDS, "ClusterInfo"),
    ],
)
def test_an_answer_passed_on_from_the_server_keeps_only_declared_fields(
    fields: frozenset[str], schema: str
) -> None:
    assert fields == declared_properties(schema)


@pytest.mark.parametrize(
    ("model", "body", "where"),
    [
        (bodies.AccountCreateRequest, {"name": "A", "colour": "red"}, "colour"),
        (
            bodies.AccountCreateRequest,
            {"name": "A", "jwt_settings": {"limits": {"disk": 1}}},
            "jwt_settings.limits.disk",
        ),
        (bodies.KvBucketConfig, {"bucket": "b", "storage": "file", "ttl": 5}, "ttl"),
        (bodies.AccountCreateRequest, {"name": "a.b"}, "name"),
        (bodies.AccountCreateRequest, {"name": "a*"}, "name"),
        (bodies.AccountCreateRequest, {"name": "a>"}, "name"),
        (bodies.AccountCreateRequest, {"name": "A", "user_jwt_expires_in_secs": -1}, "user_jwt"),
        (
            bodies.NatsUserCreateRequest,
            {"name": "u", "sk_group_id": "G", "jwt_expires_in_secs": -5},
            "jwt_expires",
        ),
        (bodies.KvBucketConfig, {"bucket": "a.b c", "storage": "file"}, "bucket"),
        (bodies.StreamConfig, {"name": "a.b"}, "name"),
        (
            bodies.AccountCreateRequest,
            {"name": "A", "jwt_settings": {"description": "x" * 900 * 1024}},
            "jwt_settings.description",
        ),
    ],
)
def test_a_body_the_twin_must_refuse_names_the_field(
    model: type[BaseModel], body: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    location = ".".join(str(part) for part in refused.value.errors()[0]["loc"])
    assert location.startswith(where)


def test_documented_user_settings_are_read() -> None:
    settings = bodies.UserJwtSettings.model_validate(
        {"bearer_token": True, "allowed_connection_types": ["STANDARD"], "tags": ["a"]}
    )
    assert settings.bearer_token is True
    assert settings.allowed_connection_types == ["STANDARD"]


def test_a_user_name_may_hold_dots_but_no_whitespace() -> None:
    assert bodies.NatsUserCreateRequest(name="john.doe", sk_group_id="G").name == "john.doe"
    with pytest.raises(ValidationError):
        bodies.NatsUserCreateRequest(name="john doe", sk_group_id="G")
