"""Which servers a process is connected to, from /proc (Linux): a chaos test places a fault by
where a client's connections are, which no client reports."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

ESTABLISHED = "01"


def socket_inodes(pid: int) -> set[str]:
    """The inodes of `pid`'s open sockets; empty once it has exited."""
    sockets = set()
    with contextlib.suppress(FileNotFoundError, PermissionError):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed while we looked
                target = os.readlink(descriptor)
                if target.startswith("socket:["):
                    sockets.add(target.removeprefix("socket:[").removesuffix("]"))
    return sockets


def remote_ports_in(table: str, sockets: set[str]) -> set[int]:
    """The remote ports of a /proc/net/tcp table's ESTABLISHED rows whose inode is in `sockets`."""
    ports = set()
    for row in table.splitlines()[1:]:
        fields = row.split()
        if len(fields) > 9 and fields[3] == ESTABLISHED and fields[9] in sockets:
            ports.add(int(fields[2].rpartition(":")[2], 16))
    return ports


def connected_ports(pid: int) -> set[int]:
    """The remote TCP ports `pid` has established connections to."""
    sockets = socket_inodes(pid)
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError):
            ports |= remote_ports_in(Path(f"/proc/{pid}/net/{table}").read_text(), sockets)
    return ports
