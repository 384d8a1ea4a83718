"""Which control-plane API a cloud task talks to, with which token, in which system.

`--api-url local` (or the running stack's twin URL) means the local twin: without
--token-file, the token the stack made for it is used. SYNADIA_TOKEN is never sent there: it is
the cloud's, and a cloud token is a secret the twin has no business seeing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from devkit.auth.security import controlplane_token_path
from devkit.controlplane.client import ControlPlane, ControlPlaneError
from devkit.controlplane.models import ACCOUNT_NAME_LIMIT, ACCOUNT_NAME_PATTERN, System
from devkit.controlplane.token import read_token
from devkit.flags import FlagError
from devkit.stack.config import StackConfig

LOCAL = "local"


def api_url_for(option: str, stack: StackConfig) -> str:
    """The API's base URL; anything but `local` or an http(s) URL with a host is a usage error."""
    if option == LOCAL:
        return stack.controlplane_url
    parts = urlsplit(option)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FlagError(f"--api-url takes an http(s) URL or `local`, not {option!r}")
    return option.rstrip("/")


def account_name(flag: str, value: str) -> str:
    """An account name the API can take, checked before anything is sent."""
    if not value.strip():
        raise FlagError(f"{flag} needs an account name, not an empty one")
    if len(value) > ACCOUNT_NAME_LIMIT or not re.match(ACCOUNT_NAME_PATTERN, value):
        raise FlagError(
            f"{flag} {value!r} cannot name an account: at most {ACCOUNT_NAME_LIMIT} characters,"
            " without spaces, '.', '*', '>' or path separators"
        )
    return value


def open_control_plane(
    api_url: str, token_file: str, environment: Mapping[str, str], stack: StackConfig
) -> ControlPlane:
    local = api_url == stack.controlplane_url
    token = read_token(
        Path(token_file).expanduser() if token_file else None,
        {} if local else environment,
        fallback=controlplane_token_path(stack.root) if local else None,
    )
    return ControlPlane(api_url, token)


def choose_system(control_plane: ControlPlane, system_id: str) -> System:
    """The system asked for, or the only one the token can see; otherwise say which exist."""
    systems = [s for team in control_plane.teams() for s in control_plane.systems(team.id)]
    if system_id:
        for system in systems:
            if system.id == system_id:
                return system
        raise ControlPlaneError(f"no system {system_id} among the systems this token can see")
    if len(systems) == 1:
        return systems[0]
    if not systems:
        raise ControlPlaneError("this token can see no system: create one in Synadia Cloud first")
    listed = ", ".join(f"{s.name} ({s.id})" for s in systems)
    raise ControlPlaneError(f"several systems ({listed}): choose one with --system ID")
