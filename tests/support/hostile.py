"""Hostile HTTP requests for the gateway, as Hypothesis strategies, and a plain socket to send
them with: no HTTP client would send most of these (raw non-ASCII in a request line, a
malformed method, undecodable percent-escapes, Latin-1 header bytes)."""

from __future__ import annotations

import socket
import string
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st

DOCUMENTED_STATUSES = frozenset({200, 201, 400, 401, 403, 404, 405, 409, 413, 503, 504})
"""README.md, "HTTP callers": every status the gateway may answer with."""

_SUBJECT_PIECES = ["customer", "balance", "$SRV", "PING", "_INBOX", "*", ">", "config", "x"]
_HOSTILE_CHARS = st.sampled_from([*" .*>%\t\x00\x7f\u00e9\u0661/\\?#&=+\r\n", "..", "%D9"])
_QUERY_NAMES = [
    "timeout", "limit", "queue", "reply", "idleHeartbeat", "revision", "previousRevision",
    "purge", "authorization", "x",
]  # fmt: skip
_NUMBERS = ["0", "1", "-1", "+5", "1_000", "\u0665", "1e3", "99999999999999999999", "", " 7"]


@dataclass(frozen=True)
class HostileRequest:
    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    def encode(self) -> bytes:
        lines = [self.method + b" " + self.target + b" HTTP/1.1", b"Host: 127.0.0.1"]
        lines += [name + b": " + value for name, value in self.headers]
        lines += [b"Connection: close", b"Content-Length: " + str(len(self.body)).encode()]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


def _text(pieces: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(st.sampled_from(pieces), _HOSTILE_CHARS), max_size=8).map(".".join)


def _raw_or_quoted(text: str) -> bytes:
    """Percent-encoded, as a client would; or raw UTF-8, as none would."""
    quoted = quote(text, safe="$.*>_-")
    return quoted.encode() if len(text) % 3 else text.encode("utf-8", "surrogateescape")


@st.composite
def hostile_requests(draw: st.DrawFn, token: str) -> HostileRequest:
    method = draw(
        st.one_of(
            st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"]),
            st.binary(min_size=1, max_size=8).filter(lambda b: b" " not in b and b"\r" not in b),
        )
    )
    kind = draw(st.sampled_from(["subjects", "kv", "other"]))
    if kind == "subjects":
        path = b"/v1/nats/subjects/" + _raw_or_quoted(draw(_text(_SUBJECT_PIECES)))
    elif kind == "kv":
        bucket = draw(_text(["config", "no-such", "a b"]))
        key = draw(_text(["seed", "k", "a..b"]))
        path = b"/v1/kv/" + _raw_or_quoted(bucket) + b"/" + _raw_or_quoted(key)
    else:
        path = b"/" + _raw_or_quoted(draw(st.text(max_size=20)))
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(_QUERY_NAMES),
                st.one_of(st.sampled_from([*_NUMBERS, "true", "TRUE", "%D9", "a%20b"]),
                          st.text(string.printable, max_size=10)),
            ),
            max_size=3,
        )
    )  # fmt: skip
    query = "&".join(f"{name}={value}" for name, value in pairs)
    target = path + (b"?" + query.encode("utf-8", "surrogateescape") if query else b"")
    headers: list[tuple[bytes, bytes]] = []
    if draw(st.integers(0, 9)):  # mostly the real token, sometimes none or a wrong one
        headers.append((b"Authorization", draw(st.sampled_from([token, "Bearer " + token]))
                        .encode()))  # fmt: skip
    elif draw(st.booleans()):
        headers.append((b"Authorization", b"nhg_wrong"))
    for name, value in draw(
        st.lists(
            st.tuples(
                st.text(string.ascii_letters + "-_:@", min_size=1, max_size=12),
                st.one_of(st.binary(max_size=30), st.sampled_from([b"0", b"x" * 9000])),
            ),
            max_size=3,
        )
    ):
        clean = value.replace(b"\r", b"").replace(b"\n", b"")
        headers.append((("NatsH-" + name).encode(), clean))
    if draw(st.booleans()):
        headers.append((b"Accept", draw(st.sampled_from([b"application/json", b"text/plain"]))))
    # Mostly small: the max payload's edges are each their own test (test_gateway_faults.py)
    size = draw(st.sampled_from([0] * 8 + [10, 1000, 65_536, 1_048_500, 1_048_576, 1_048_600]))
    body = draw(st.binary(min_size=min(size, 20), max_size=20)).ljust(size, b"x")
    return HostileRequest(method, target, tuple(headers), body)


def send(host: str, port: int, request: HostileRequest) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body; an event stream's body is not waited for."""
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                raise AssertionError(f"no response head: {received[:200]!r}")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        if "text/event-stream" in headers.get("Content-Type", "") or request.method == b"HEAD":
            return int(status_line.split()[1]), headers, b""
        length = int(headers.get("Content-Length", "0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(status_line.split()[1]), headers, body
