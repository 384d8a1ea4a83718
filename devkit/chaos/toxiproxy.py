"""Toxiproxy (Shopify's fault-injection proxy): the pinned server, started on 127.0.0.1, and the
few calls of its HTTP API the chaos tests use."""

from __future__ import annotations

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

    def proxy(self, name: str, listen_port: int, upstream: str) -> Proxy:
        listen = f"{names.LOCAL_HOST}:{listen_port}"
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream})
        return Proxy(name, listen_port, upstream)

    def enabled(self, proxy: Proxy, on: bool) -> None:
        """Off: its listener closes and every open connection through it is cut."""
        self._call("POST", f"/proxies/{proxy.name}", {"enabled": on})

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


@contextmanager
def toxiproxy_server(binary: Path, port: int, log: Path) -> Iterator[Toxiproxy]:
    """The server on 127.0.0.1:`port`, stopped on exit."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [str(binary), "-host", names.LOCAL_HOST, "-port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    api = Toxiproxy(f"http://{names.LOCAL_HOST}:{port}")
    try:
        deadline = time.monotonic() + 15
        while True:  # bounded: up within moments
            try:
                api._call("GET", "/proxies")
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"toxiproxy did not start; see {log}") from None
                time.sleep(0.1)
        yield api
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
