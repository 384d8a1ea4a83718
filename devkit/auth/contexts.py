"""NATS CLI contexts (ADR-21 files) for the local stack and Synadia Cloud.

Files live in `$XDG_CONFIG_HOME/nats/context/<name>.json` (default `~/.config/nats`), mode
0600, written atomically. Only contexts whose description carries our mark are ever replaced
or removed, so a person's own contexts are left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devkit import platform_names
from devkit.auth.private_files import write_private
from devkit.flags import FlagError
from service import names
from service.credentials import CredentialsError, inbox_prefix_of, read_credentials_file
from service.operator_errors import OperatorError

MARK = "written by `invoke context` (nats-customer-balance)"
LOCAL_SERVICE = "local-service"
LOCAL_CLIENT = "local-client"
LOCAL_ADMIN = "local-admin"
LOCAL_READER = "local-reader"
CLOUD_SERVICE = "cloud-service"
CLOUD_CLIENT = "cloud-client"
CLOUD_READER = "cloud-reader"
OURS = (
    LOCAL_SERVICE,
    LOCAL_CLIENT,
    LOCAL_ADMIN,
    LOCAL_READER,
    CLOUD_SERVICE,
    CLOUD_CLIENT,
    CLOUD_READER,
)

# Every key the NATS CLI writes, so files look like the CLI's own.
_TEMPLATE: dict[str, object] = {
    "description": "",
    "url": "",
    "socks_proxy": "",
    "token": "",
    "user": "",
    "password": "",
    "creds": "",
    "nkey": "",
    "cert": "",
    "key": "",
    "ca": "",
    "nsc": "",
    "jetstream_domain": "",
    "jetstream_api_prefix": "",
    "jetstream_event_prefix": "",
    "inbox_prefix": "",
    "user_jwt": "",
    "user_seed": "",
    "color_scheme": "",
    "tls_first": False,
    "windows_cert_store": "",
    "windows_cert_match_by": "",
    "windows_cert_match": "",
    "windows_ca_certs_match": None,
}


class ContextError(OperatorError):
    """A context cannot be written, selected or removed; the message says why."""


def config_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nats"


@dataclass(frozen=True)
class Context:
    name: str
    url: str
    creds: Path
    description: str

    def document(self) -> dict[str, object]:
        return {
            **_TEMPLATE,
            "description": f"{self.description}; {MARK}",
            "url": self.url,
            "creds": str(self.creds.resolve()),
            # The CLI must ask for replies where the user may subscribe (its private inbox).
            "inbox_prefix": inbox_prefix_of(self.creds) or "",
        }


def _path(directory: Path, name: str) -> Path:
    if not name or ".." in name or "/" in name or "\\" in name:
        raise ContextError(f"invalid context name {name!r}")
    return directory / "context" / f"{name}.json"


def is_ours(path: Path) -> bool:
    try:
        description = json.loads(path.read_text()).get("description", "")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(description, str) and MARK in description


def write_contexts(directory: Path, contexts: list[Context]) -> list[Path]:
    """Write (or refresh) our contexts; refuse to overwrite one a person made."""
    written = []
    for context in contexts:
        path = _path(directory, context.name)
        if path.exists() and not is_ours(path):
            raise ContextError(
                f"{path} exists and was not written by `invoke context`; rename or remove it"
            )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(path, json.dumps(context.document(), indent=2))
        written.append(path)
    return written


def check_selectable(directory: Path, name: str, wanted: list[Context]) -> None:
    """`--select NAME` names a context about to be written or one already there (exit 2)."""
    if not name or name in (c.name for c in wanted):
        return
    try:
        there = _path(directory, name).exists()
    except ContextError:
        there = False
    if not there:
        raise FlagError(
            f"--select {name!r} names no context: one of {', '.join(c.name for c in wanted)},"
            f" or one in {directory / 'context'}"
        )


def select(directory: Path, name: str) -> None:
    if not _path(directory, name).exists():
        raise ContextError(f"no context named {name!r} in {directory / 'context'}")
    selected = directory / "context.txt"
    previous = selected.read_text().strip() if selected.exists() else ""
    if previous and previous != name:
        write_private(directory / "previous-context.txt", previous)
    write_private(selected, name)


def remove_ours(directory: Path) -> list[str]:
    """Delete only the contexts this tool wrote; unselect one of them if it was selected."""
    removed = []
    for name in OURS:
        path = _path(directory, name)
        if path.exists() and is_ours(path):
            path.unlink()
            removed.append(name)
    selected = directory / "context.txt"
    if selected.exists() and selected.read_text().strip() in removed:
        selected.unlink()
    return removed


def local_contexts(
    url: str,
    service_creds: Path,
    client_creds: Path,
    admin_creds: Path | None = None,
    reader_creds: Path | None = None,
) -> list[Context]:
    contexts = [
        Context(LOCAL_SERVICE, url, service_creds, "local stack as the service user"),
        Context(LOCAL_CLIENT, url, client_creds, "local stack as the client user"),
    ]
    if reader_creds is not None:
        contexts.append(
            Context(LOCAL_READER, url, reader_creds, "local stack as the reader of the events")
        )
    if admin_creds is not None:
        contexts.append(
            Context(LOCAL_ADMIN, url, admin_creds, "local stack as its administrator (local only)")
        )
    return contexts


def cloud_contexts(service_creds: Path | None, client_creds: Path | None) -> list[Context]:
    contexts = []
    for name, creds, who in (
        (CLOUD_SERVICE, service_creds, "service"),
        (CLOUD_CLIENT, client_creds, "client"),
    ):
        if creds is None:
            continue
        try:
            read_credentials_file(creds, label="creds file")
        except CredentialsError as error:
            raise ContextError(f"{name}: {error}") from None
        contexts.append(
            Context(name, platform_names.CLOUD_NATS_URL, creds, f"Synadia Cloud as the {who} user")
        )
    return contexts


def path_option(option: str, environ: Mapping[str, str], variable: str) -> Path | None:
    """An explicit option wins over the environment variable; neither means none."""
    value = option or environ.get(variable, "")
    return Path(os.path.expanduser(value)) if value else None


@dataclass(frozen=True)
class ContextTarget:
    """What a context file says to connect to."""

    url: str
    creds: Path | None


def read_context(directory: Path, name: str) -> ContextTarget:
    """Any context (ours or a person's), for the tools that connect through one."""
    path = _path(directory, name)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ContextError(f"no readable NATS context {name!r} at {path}") from None
    if not isinstance(document, dict):
        raise ContextError(f"{path} is not a NATS context (not a JSON object)")
    creds = document.get("creds") or ""
    return ContextTarget(
        url=document.get("url") or f"nats://{names.LOCAL_HOST}:{names.NATS_PORT}",
        creds=Path(creds) if creds else None,
    )
