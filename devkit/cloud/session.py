"""Which control-plane API a cloud task talks to, with which token, in which system.

`--api-url local` (or the running stack's twin URL) means the local twin: without
--token-file, the token the stack made for it is used. SYNADIA_TOKEN is never sent there: it is
the cloud's, and a cloud token is a secret the twin has no business seeing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from devkit.auth.security import controlplane_token_path
from devkit.controlplane.client import ControlPlane, ControlPlaneError
from devkit.controlplane.models import System
from devkit.controlplane.token import read_token
from devkit.stack.config import StackConfig

LOCAL = "local"


def api_url_for(option: str, stack: StackConfig) -> str:
    return stack.controlplane_url if option == LOCAL else option.rstrip("/")


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
