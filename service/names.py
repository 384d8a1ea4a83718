"""The names, subjects and limits the runtime reads: subjects, queue group, headers, stream,
bucket, table attributes, health and log limits. They ship in the image.

The platform's own vocabulary (images, the Compose project, the twins' and emulators' ports, the
operator, account and user names, the cloud URL) is `devkit.platform_names`; nothing here names
what only the platform uses (tests/unit/test_architecture.py checks). Every other place reads
these; none types them again.
"""

from pathlib import Path
from typing import Final

SERVICE_NAME: Final = "customer"
"""The micro service name, as discovered by `$SRV.PING.customer`."""

SERVICE_DESCRIPTION: Final = "Customer balances read from DynamoDB"
"""Never empty: the NATS CLI hides a service whose INFO carries a null description."""

ENDPOINT_NAME: Final = "balance"
REQUEST_SUBJECT: Final = "customer.balance"
"""Requests. Deliberately one token shorter than the event subjects, so the stream never captures it."""

QUEUE_GROUP: Final = "q"

TIMEOUT_HEADER: Final = "Request-Timeout-Ms"
"""How long the caller will wait for this reply, in whole milliseconds, counted from when it sent
the request. Relative, like gRPC's `grpc-timeout`, so no clock needs to agree with another: the
service takes it from the moment the request arrives, drops the request unanswered once it has
passed (nobody is listening any more) and never works past it."""
MAX_CALLER_TIMEOUT_MS: Final = 3_600_000

EVENT_SUBJECT_PREFIX: Final = "customer.balance"
"""Events go to `customer.balance.<client_id>`."""

STREAM_NAME: Final = "customer-balances"
STREAM_SUBJECTS: Final = ("customer.balance.>",)
STREAM_MAX_AGE_S: Final = 7 * 24 * 3600
STREAM_MAX_BYTES: Final = 10 * 1024 * 1024
"""The original's 10 MiB: about 40,000 events of about 250 bytes each; STREAM_MAX_BYTES changes it."""

STREAM_DUPLICATE_WINDOW_S: Final = 30
"""How long the stream remembers an event's `Nats-Msg-Id`: long enough for the one resend of an
event (inside the recorder's budget, half of REQUEST_TIMEOUT_S, at most 30 s). JetStream's
default of 2 minutes held four times as many ids, 50 MB of nats-server's memory at 1,000
events a second (docs/benchmarks.md, "Faults and soak")."""

KV_BUCKET: Final = "config"
KV_STREAM_PREFIX: Final = "KV_"
"""JetStream keeps a key-value bucket as the stream `KV_<bucket>`."""
KV_MAX_BYTES: Final = 1024 * 1024
"""Synadia Cloud refuses a bucket without max_bytes; 1 MiB holds thousands of markers."""

SEED_KEY_PREFIX: Final = "seed."
"""The seed marker of table T lives at `seed.T` in the `config` bucket."""

DDB_KEY_ATTRIBUTE: Final = "id"
DDB_BALANCE_ATTRIBUTE: Final = "client_balance"
DDB_BATCH_WRITE_MAX: Final = 25
"""DynamoDB's BatchWriteItem limit."""

DEFAULT_REGION: Final = "us-east-1"
"""Only used with an emulator (AWS_ENDPOINT_URL set); real AWS needs an explicit region."""

LOCAL_HOST: Final = "127.0.0.1"
NATS_PORT: Final = 4222

HEALTH_FILE: Final = Path("/tmp/customer-service.health")  # noqa: S108 - one per container
"""The heartbeat `python -m service.health` reads (HEALTH_FILE overrides it)."""
HEALTH_INTERVAL_S: Final = 2.0
"""Seconds between heartbeats; a heartbeat older than three intervals is unhealthy."""

LOG_FILE_MAX_BYTES: Final = 10 * 1024 * 1024
LOG_FILE_BACKUPS: Final = 2
"""A process that writes its own log file (LOG_FILE: the native stack's) keeps at most this many
older files beside it, each of LOG_FILE_MAX_BYTES: 30 MB a component, however long it runs."""

ERROR_HEADER: Final = "Nats-Service-Error"
ERROR_CODE_HEADER: Final = "Nats-Service-Error-Code"

INBOX_PREFIX: Final = "_INBOX"
"""nats-py's and the NATS CLI's inbox prefix when a user has no private one."""


def private_inbox_prefix(user: str) -> str:
    """The inbox prefix only `user` may subscribe under: `_INBOX_<user>`, so no user reads
    another's replies (the prefix every client's `inbox_prefix` option and permissions use)."""
    return f"{INBOX_PREFIX}_{user}"


CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
"""A client id becomes a subject token, so no dots, spaces or wildcards."""


def seed_key(table: str) -> str:
    """The KV key holding the seed marker of `table`."""
    return f"{SEED_KEY_PREFIX}{table}"


def event_subject(client_id: str) -> str:
    """The stream subject an answer for `client_id` is recorded on."""
    return f"{EVENT_SUBJECT_PREFIX}.{client_id}"
