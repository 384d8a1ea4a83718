"""Where the stream's and the bucket's replicas are, for `invoke status` on the cluster: the
leader, and whether every follower is current (JetStream stream info's `cluster` block)."""

from __future__ import annotations

from pathlib import Path

from nats.errors import Error as NatsError
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError
from pydantic import BaseModel, computed_field

from devkit.caller import CallError, connect_client
from service import names


class Replica(BaseModel):
    """A follower, as its leader sees it."""

    name: str
    current: bool
    offline: bool = False
    lag: int | None = None


class Replication(BaseModel):
    """One stream's (or bucket's) replicas: who leads, and who follows how closely."""

    name: str
    kind: str
    """"stream" or "bucket"."""
    replicas: int
    leader: str | None
    followers: list[Replica]

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use
    @property
    def all_current(self) -> bool:
        """A leader, and every follower current: as many copies as asked for, caught up."""
        return (
            self.leader is not None
            and len(self.followers) == self.replicas - 1
            and all(f.current and not f.offline for f in self.followers)
        )

    def describe(self) -> str:
        followers = ", ".join(
            f"{f.name} {'current' if f.current else 'behind'}"
            + (" (offline)" if f.offline else "")
            + (f" (lag {f.lag})" if f.lag else "")
            for f in self.followers
        )
        return (
            f"{self.kind} {self.name}: R{self.replicas}, leader {self.leader or 'none'}"
            + (f", followers {followers}" if followers else "")
            + ("" if self.all_current else "; not every replica is current")
        )


def replication_of(kind: str, name: str, info: StreamInfo) -> Replication:
    cluster = info.cluster
    return Replication(
        name=name,
        kind=kind,
        replicas=info.config.num_replicas or 1,
        leader=None if cluster is None else cluster.leader,
        followers=[
            Replica(name=p.name, current=bool(p.current), offline=bool(p.offline), lag=p.lag)
            for p in (cluster.replicas or [] if cluster is not None else [])
            if p.name is not None
        ],
    )


async def replication(url: str, creds: Path | None) -> list[Replication]:
    """The stream's and the bucket's; empty when NATS cannot be read, and without one that
    cannot (the stack is down or starting)."""
    try:
        nc = await connect_client(url, name="customer-status", creds=creds, connect_timeout_s=1)
    except CallError:
        return []
    found: list[Replication] = []
    js = nc.jetstream(timeout=2)
    try:
        for kind, name, stream in (
            ("stream", names.STREAM_NAME, names.STREAM_NAME),
            ("bucket", names.KV_BUCKET, names.KV_STREAM_PREFIX + names.KV_BUCKET),
        ):
            try:
                found.append(replication_of(kind, name, await js.stream_info(stream)))
            except (NotFoundError, NatsError, TimeoutError):
                continue
    finally:
        await nc.close()
    return found
