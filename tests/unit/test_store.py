from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from service.errors import InternalError
from service.settings import Settings
from service.store import chunks, client_credentials, is_transient, parse_balance


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetItem")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("InternalServerError"), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (client_error("ValidationException"), False),
        (client_error("ResourceNotFoundException"), False),
        (client_error("AccessDeniedException"), False),
    ],
)
def test_only_throttling_and_outages_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_integral_numbers_are_balances() -> None:
    assert parse_balance({"client_balance": {"N": "7120"}}) == 7120
    assert parse_balance({"client_balance": {"N": "7120.0"}}) == 7120


@pytest.mark.parametrize(
    "item", [{}, {"client_balance": {"S": "12"}}, {"client_balance": {"N": "1.5"}}]
)
def test_anything_else_is_a_data_fault(item: dict[str, object]) -> None:
    with pytest.raises(InternalError):
        parse_balance(item)  # type: ignore[arg-type]


def test_chunks_of_25() -> None:
    sizes = [len(c) for c in chunks(((str(i), i) for i in range(60)), 25)]
    assert sizes == [25, 25, 10]


def test_emulators_get_dummy_keys_real_aws_never() -> None:
    emulator = Settings(ddb_table="t12", aws_endpoint_url="http://127.0.0.1:8000")
    aws = Settings(ddb_table="t12", aws_region="eu-west-1")
    assert client_credentials(emulator, {}) == {
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }
    assert client_credentials(emulator, {"AWS_ACCESS_KEY_ID": "AKIA"}) == {}
    assert client_credentials(aws, {}) == {}
