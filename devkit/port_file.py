"""A server asked for port 0 writes the port it took to a file; its launcher reads it back.

Used by the moto emulator and both twins (each a process of its own), so a caller never takes a
port by binding it and letting go, which another program can take in between.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_port(path: Path, port: int) -> None:
    """Whole or absent: written beside, then renamed, so a reader never sees half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(f"{port}\n")
    os.replace(partial, path)


def port_in(text: str) -> int | None:
    """The port in a port file's text; None until it is written."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else None
