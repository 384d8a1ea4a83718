"""A stack with its HTTP gateway for the gateway tests, and one HTTP call's status, headers
and body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from devkit.controlplane.client import ControlPlane
from devkit.controlplane.models import (
    NatsUser,
    NatsUserCreateRequest,
    Permission,
    UserJwtSettings,
)
from tests.support.commands import invoke, stack_environment, taken_port


@dataclass(frozen=True)
class HttpStack:
    url: str
    nats_url: str
    """Node 1's URL (the only server's on one server): what a raw `nats.connect` takes."""
    tokens: dict[str, str]
    creds: Path
    env: dict[str, str]
    servers: str
    """The stack's server list, as its clients get it (`nats_url` of `invoke status --json`):
    on the cluster, every node's URL, comma-separated."""

    def subjects(self, subject: str) -> str:
        return f"{self.url}/v1/nats/subjects/{subject}"


@contextmanager
def http_stack(mode: str, root: Path) -> Iterator[HttpStack]:
    """`invoke up` on free ports (the gateway's too); `down --wipe` afterwards, whatever happens."""
    env = stack_environment(root, mode)
    started = invoke(env, "up")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        tokens = {
            user: invoke(env, "token", "--user", user).stdout.strip()
            for user in ("client", "admin")
        }
        yield HttpStack(
            url=f"http://127.0.0.1:{taken_port(env, 'STACK_GATEWAY_PORT')}",
            nats_url=f"nats://127.0.0.1:{taken_port(env, 'STACK_NATS_PORT')}",
            tokens=tokens,
            creds=root / "creds",
            env=env,
            servers=json.loads(invoke(env, "status", "--json").stdout)["nats_url"],
        )
    finally:
        invoke(env, "down", "--wipe")


@contextmanager
def cloud_stack(root: Path) -> Iterator[HttpStack]:
    """A native stack for the cloud-side tests: its cloud files and NATS contexts under `root`,
    never the person's own."""
    with http_stack("native", root / "stack") as running:
        running.env["CLOUD_DIR"] = str(root / "cloud")
        running.env["XDG_CONFIG_HOME"] = str(root / "config")
        yield running


async def status_of(
    http: aiohttp.ClientSession, method: str, url: str, **options: object
) -> tuple[int, dict[str, str], bytes]:
    async with http.request(method, url, **options) as response:  # type: ignore[arg-type]
        return response.status, dict(response.headers), await response.read()


PROBE = b"probe"
"""A request body the tests' responders answer even when they answer nothing else."""
INTEREST_TIMEOUT_S = 10.0


async def until_the_gateway_reaches(
    http: aiohttp.ClientSession, stack: HttpStack, subject: str, token: str
) -> None:
    """Returns once a PROBE to `subject` through the gateway is answered (any status but 503).

    A test's responder connects to node 1, and the gateway's connection for the token's user
    to any node of the server list: on the cluster that node learns of the subscription over
    the routes a moment after the responder's flush, and a request it gets before answers 503
    (no responders). A flush proves node 1 has the subscription; this proves the gateway's
    node has it, through the very connection the test's next request takes."""
    deadline = asyncio.get_running_loop().time() + INTEREST_TIMEOUT_S
    while True:
        status, _, raw = await status_of(
            http,
            "POST",
            stack.subjects(subject),
            headers={"Authorization": token},
            data=PROBE,
        )
        if status != 503:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"the gateway's node never saw a responder on {subject} within"
                f" {INTEREST_TIMEOUT_S:g} s: {raw!r}"
            )
        await asyncio.sleep(0.05)


def pid_of(stack: HttpStack, component: str) -> int:
    """A component's pid, as `invoke status --json` reports it (`nats`, `gateway`, ...)."""
    report = json.loads(invoke(stack.env, "status", "--json").stdout)
    (pid,) = [c["pid"] for c in report["components"] if c["name"] == component]
    assert isinstance(pid, int), report
    return pid


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def gateway_log(stack: HttpStack) -> str:
    return (Path(stack.env["STACK_DIR"]) / "logs" / "gateway.log").read_text(errors="replace")


async def balance_status(
    http: aiohttp.ClientSession, stack: HttpStack, user: str = "client"
) -> int:
    """What a plain balance request through the gateway answers with `user`'s token."""
    status, _, _ = await status_of(
        http,
        "POST",
        stack.subjects("customer.balance"),
        headers={"Authorization": stack.tokens[user]},
        data=b'{"client_id":"1"}',
    )
    return status


def twin_api(stack: HttpStack) -> ControlPlane:
    """A control-plane client for the stack's twin (close it after use)."""
    token_path = Path(stack.env["STACK_DIR"]) / "security" / "controlplane-token"
    return ControlPlane(
        f"http://127.0.0.1:{taken_port(stack.env, 'STACK_CONTROLPLANE_PORT')}",
        token_path.read_text().strip(),
    )


def twin_user(
    api: ControlPlane, account_id: str, name: str, *, pub: list[str], sub: list[str]
) -> NatsUser:
    (group,) = api.signing_key_groups(account_id)
    settings = UserJwtSettings(pub=Permission(allow=pub), sub=Permission(allow=sub))
    return api.create_user(
        account_id, NatsUserCreateRequest(name=name, sk_group_id=group.id, jwt_settings=settings)
    )


async def raw_request(stack: HttpStack, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Bytes no HTTP client would send; the gateway's status, headers and body."""
    host, port = stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").strip().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        length = int(headers.get("Content-Length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), 10)
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()
