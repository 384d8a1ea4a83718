"""The native DynamoDB emulator does not keep what it has read: moto 5 would keep every
projected item it returned (devkit/stack/moto_emulator.py), about 580 bytes per item, so this
test's 30,000 item reads would grow it by some 17 MB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from devkit.stack.processes import stop_process
from devkit.stack.servers import start_moto
from service import names

pytestmark = [pytest.mark.integration, pytest.mark.serial("the emulator's memory over many reads")]

TABLE = "leak-check"


def resident_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    (rss,) = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    return rss


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[tuple[int, str]]:
    launched = start_moto(workdir=tmp_path)
    try:
        yield launched.pid, launched.endpoint
    finally:
        stop_process(launched.pid)


def test_reads_with_a_projection_do_not_grow_the_emulator(moto: tuple[int, str]) -> None:
    pid, endpoint = moto
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=names.DEFAULT_REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # the emulator takes any
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": names.DDB_KEY_ATTRIBUTE, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": names.DDB_KEY_ATTRIBUTE, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys = [str(n) for n in range(100)]
    for first in range(0, len(keys), names.DDB_BATCH_WRITE_MAX):
        puts = [
            {"PutRequest": {"Item": {names.DDB_KEY_ATTRIBUTE: {"S": k}, "n": {"N": k}}}}
            for k in keys[first : first + names.DDB_BATCH_WRITE_MAX]
        ]
        client.batch_write_item(RequestItems={TABLE: puts})

    def read(times: int) -> None:
        for _ in range(times):  # the service's BatchGetItem, projection included
            response = client.batch_get_item(
                RequestItems={
                    TABLE: {
                        "Keys": [{names.DDB_KEY_ATTRIBUTE: {"S": key}} for key in keys],
                        "ProjectionExpression": (f"{names.DDB_KEY_ATTRIBUTE}, n"),
                    }
                }
            )
            assert len(response["Responses"][TABLE]) == len(keys)

    read(50)  # warm-up: imports, caches, connection pools
    before = resident_kb(pid)
    read(300)
    grown_kb = resident_kb(pid) - before
    assert grown_kb < 4_000, f"the emulator grew by {grown_kb} kB over 30,000 item reads"
