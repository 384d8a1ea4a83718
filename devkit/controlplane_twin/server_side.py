"""The twin's hands on the real nats-server: install and delete account JWTs through the
system account (the full resolver's `$SYS.REQ.CLAIMS.*`, as Synadia Cloud's servers get them),
and JetStream calls made as an account's own user.

Measured on nats-server 2.15.1 (docs/decisions.md, "The control-plane twin"): an account is
usable the moment the server answers the update; the server answers 200 even for a JWT it will
not trust, so the twin signs with the operator it serves and checks nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeAlias

from nats.aio.client import Client, RawCredentials
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from devkit.auth.jwt import Identity, Permissions, encode, format_creds, user_claims
from devkit.auth.permissions import ADMIN_PERMISSIONS
from service import names
from service.connection import LatePongClient, open_connection
from service.liveness import ConnectionWatch

JETSTREAM_REPORT = "$SYS.REQ.SERVER.PING.JSZ"
"""The server's JetStream report: its capacity (`config.max_storage`, `config.max_memory`) and,
on a cluster, its shape (`meta_cluster.cluster_size`: the tiers the twin offers, tiers.py). The
first server to answer speaks for the cluster (measured: 1 ms at the median on the cluster)."""
JETSTREAM_PURGE = "$JS.API.ACCOUNT.PURGE"
"""Deletes an account's streams and its folder in the JetStream store (system account only)."""
SYSTEM_PERMISSIONS = Permissions(
    publish=(
        "$SYS.REQ.CLAIMS.UPDATE",
        "$SYS.REQ.CLAIMS.DELETE",
        JETSTREAM_REPORT,
        f"{JETSTREAM_PURGE}.*",
    ),
    subscribe=("_INBOX.>",),
)
ServerAnswer: TypeAlias = dict[str, Any]
"""A JSON answer of the server's own API (`$SYS`, `$JS.API`), as decoded: the twin's edge with
the server; views.py reads it into the API's models."""
TIMEOUT_S = 5.0
JETSTREAM_NOT_ENABLED = 10039
"""JetStream's code for an account without it; no responders on `$JS.API` means the same."""


class ServerSideError(Exception):
    """The server refused or did not answer; `status` is what the API answers for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class JetStreamError(Exception):
    code: int
    err_code: int
    description: str


def user_creds(user: Identity, issuer: Identity, name: str, permissions: Permissions) -> str:
    return format_creds(encode(user_claims(user, name, permissions), issuer), user)


async def _connect(url: str, creds: str, name: str) -> LatePongClient:
    return await open_connection(
        servers=[url],
        name=name,
        user_credentials=RawCredentials(creds),
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=3,
    )


class ServerSide:
    def __init__(self, url: str, operator: Identity, system: Identity, system_user: Identity):
        self._url = url
        self._operator = operator
        self._system_creds = user_creds(
            system_user, system, "controlplane-twin", SYSTEM_PERMISSIONS
        )
        self._system: Client | None = None
        self._accounts: dict[str, Client] = {}
        self._watches: list[ConnectionWatch] = []

    async def _open(self, creds: str) -> Client:
        """A connection that a paused or silent server cannot leave dead (service.liveness)."""
        connection = await _connect(self._url, creds, "controlplane-twin")
        watch = ConnectionWatch(
            connection, interval_s=names.HEALTH_INTERVAL_S, name="controlplane-twin"
        )
        watch.start()
        self._watches = [w for w in self._watches if not w.done] + [watch]
        return connection

    async def _system_connection(self) -> Client:
        if self._system is None or self._system.is_closed:
            self._system = await self._open(self._system_creds)
        return self._system

    async def _ask(self, subject: str, payload: str) -> ServerAnswer:
        try:
            connection = await self._system_connection()
            reply = await connection.request(subject, payload.encode(), timeout=TIMEOUT_S)
        except (NatsError, OSError, TimeoutError) as error:
            raise ServerSideError(503, f"nats-server did not answer {subject}: {error}") from None
        answer: ServerAnswer = json.loads(reply.data)
        if "error" in answer:
            raise ServerSideError(502, f"nats-server refused {subject}: {answer['error']}")
        data: ServerAnswer = answer["data"]
        return data

    async def install_account(self, account_jwt: str) -> None:
        """Create or update the account on the running server; live at once."""
        await self._ask("$SYS.REQ.CLAIMS.UPDATE", account_jwt)

    async def jetstream_report(self) -> ServerAnswer:
        """The JSZ report's data: `config.max_storage`, `config.max_memory` and `meta_cluster`,
        among others."""
        return await self._ask(JETSTREAM_REPORT, "")

    async def delete_account(self, account_public_key: str) -> None:
        """Remove the account: its connections close at once and its users are refused.

        Its JetStream folder goes first: a single server's health check looks up every account
        that has one, and a deleted account's lookup waits for the fetch to time out (1.9 s).
        """
        await self._purge_jetstream(account_public_key)
        await self.forget(account_public_key)
        claims = {"sub": self._operator.public_key, "nats": {"accounts": [account_public_key]}}
        await self._ask("$SYS.REQ.CLAIMS.DELETE", encode(claims, self._operator))

    async def _purge_jetstream(self, account_public_key: str) -> None:
        subject = f"{JETSTREAM_PURGE}.{account_public_key}"
        try:
            connection = await self._system_connection()
            reply = await connection.request(subject, b"", timeout=TIMEOUT_S)
        except NoRespondersError:
            return  # a server without JetStream keeps no folder to purge
        except (NatsError, OSError, TimeoutError) as error:
            raise ServerSideError(503, f"nats-server did not answer {subject}: {error}") from None
        refusal = json.loads(reply.data).get("error")
        if refusal:
            raise ServerSideError(502, f"nats-server refused {subject}: {refusal['description']}")

    async def as_account(self, account: Identity, internal_user: Identity) -> Client:
        """The twin's own connection inside an account, for its JetStream calls."""
        found = self._accounts.get(account.public_key)
        if found is not None and not found.is_closed:
            return found
        creds = user_creds(internal_user, account, "controlplane-twin", ADMIN_PERMISSIONS)
        try:
            connection = await self._open(creds)
        except (NatsError, OSError, TimeoutError) as error:
            raise ServerSideError(503, f"cannot connect to the account: {error}") from None
        self._accounts[account.public_key] = connection
        return connection

    async def jetstream(self, connection: Client, subject: str, body: Any = None) -> ServerAnswer:
        """One JetStream API call (`$JS.API.<subject>`); its error as a JetStreamError."""
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            reply = await connection.request(f"$JS.API.{subject}", payload, timeout=TIMEOUT_S)
        except NoRespondersError:
            raise JetStreamError(503, JETSTREAM_NOT_ENABLED, "JetStream not enabled") from None
        except (NatsError, OSError, TimeoutError) as error:
            raise ServerSideError(503, f"JetStream did not answer {subject}: {error}") from None
        answer: ServerAnswer = json.loads(reply.data)
        refusal = answer.get("error")
        if refusal:
            raise JetStreamError(
                refusal["code"], refusal.get("err_code", 0), refusal["description"]
            )
        return answer

    async def forget(self, account_public_key: str) -> None:
        connection = self._accounts.pop(account_public_key, None)
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def close(self) -> None:
        for key in list(self._accounts):
            await self.forget(key)
        if self._system is not None and not self._system.is_closed:
            await self._system.close()
        for watch in self._watches:
            await watch.stop()
