"""Toxiproxy (Shopify's fault-injection proxy): the pinned server, started on 127.0.0.1, and the
few calls of its HTTP API the chaos tests use.

The server and its proxies listen on ports the system chooses (port 0), read back: a proxy's from
the API's answer, the server's from /proc (it logs the 0 it was given, not the port it took).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devkit.gotools import GoTool
from service import names

TOXIPROXY = GoTool(
    name="toxiproxy-server",
    module="github.com/Shopify/toxiproxy/v2/cmd/server",
    version="v2.5.0",
)


@dataclass(frozen=True)
class Proxy:
    name: str
    listen_port: int
    upstream: str

    @property
    def address(self) -> str:
        return f"{names.LOCAL_HOST}:{self.listen_port}"


class Toxiproxy:
    """The API at `url`: proxies, toxics, and turning a proxy off and on."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=5)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Mapping[str, object] | None = None) -> Any:
        answer = self._http.request(method, path, json=body)
        if answer.status_code >= 300:
            raise RuntimeError(
                f"toxiproxy {method} {path}: HTTP {answer.status_code} {answer.text}"
            )
        return answer.json() if answer.content else None

    def proxy(self, name: str, upstream: str, listen_port: int = 0) -> Proxy:
        """A proxy to `upstream`; on port 0 it takes one the system chooses, and keeps it when
        turned off and on again."""
        listen = f"{names.LOCAL_HOST}:{listen_port}"
        made = self._call(
            "POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream}
        )
        _, _, taken = str(made["listen"]).rpartition(":")
        return Proxy(name, int(taken), upstream)

    def enabled(self, proxy: Proxy, on: bool) -> None:
        """Off: its listener closes and every open connection through it is cut."""
        self._call("POST", f"/proxies/{proxy.name}", {"enabled": on})

    def redirect(self, proxy: Proxy, upstream: str) -> Proxy:
        """Point `proxy` at another upstream (one known only after the proxy had to exist);
        it keeps its listening port."""
        self._call("POST", f"/proxies/{proxy.name}", {"upstream": upstream})
        return Proxy(proxy.name, proxy.listen_port, upstream)

    def toxic(
        self,
        proxy: Proxy,
        kind: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: int,
    ) -> str:
        """Add a toxic (latency, reset_peer, timeout, ...); returns its name."""
        name = f"{kind}_{stream}"
        body = {
            "name": name,
            "type": kind,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        self._call("POST", f"/proxies/{proxy.name}/toxics", body)
        return name

    def remove_toxic(self, proxy: Proxy, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy.name}/toxics/{name}")


def listening_in(table: str, sockets: set[str]) -> set[int]:
    """The ports of a /proc/net/tcp table's LISTEN rows (state 0A) whose inode is in `sockets`."""
    ports = set()
    for row in table.splitlines()[1:]:
        fields = row.split()
        if len(fields) > 9 and fields[3] == "0A" and fields[9] in sockets:
            ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports


def listening_ports(pid: int) -> set[int]:
    """The TCP ports `pid` listens on (Linux); empty until it has started listening."""
    sockets = set()
    with contextlib.suppress(FileNotFoundError):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed while we looked
                target = os.readlink(descriptor)
                if target.startswith("socket:["):
                    sockets.add(target.removeprefix("socket:[").removesuffix("]"))
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            ports |= listening_in(Path(f"/proc/{pid}/net/{table}").read_text(), sockets)
    return ports


def started(process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    """Raise when the server has exited or the start-up deadline has passed."""
    if process.poll() is not None or time.monotonic() > deadline:
        raise RuntimeError(f"toxiproxy did not start; see {log}")


def taken_port(process: subprocess.Popen[bytes], log: Path, deadline: float) -> int:
    """The port a server started on port 0 took: its API's, its only listener until a proxy
    is made."""
    while True:
        started(process, log, deadline)
        listening = listening_ports(process.pid)
        if listening:
            return min(listening)
        time.sleep(0.05)


@contextmanager
def toxiproxy_server(binary: Path, log: Path, port: int = 0) -> Iterator[Toxiproxy]:
    """The server on 127.0.0.1 (`port`, or one the system chooses), stopped on exit."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(binary), "-host", names.LOCAL_HOST, "-port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    api: Toxiproxy | None = None
    try:
        deadline = time.monotonic() + 15  # bounded: up within moments
        api = Toxiproxy(f"http://{names.LOCAL_HOST}:{port or taken_port(process, log, deadline)}")
        while True:
            try:
                api._call("GET", "/proxies")
                break
            except httpx.TransportError:
                started(process, log, deadline)
                time.sleep(0.1)
        yield api
    finally:
        if api is not None:
            api.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
