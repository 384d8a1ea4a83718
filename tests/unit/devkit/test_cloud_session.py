"""Which token a cloud task sends where: the cloud's never goes to the local twin."""

from __future__ import annotations

from pathlib import Path

from devkit.auth.security import controlplane_token_path
from devkit.cloud.session import open_control_plane
from devkit.stack.config import StackConfig


def sent_token(api_url: str, environment: dict[str, str], stack: StackConfig) -> str:
    with open_control_plane(api_url, "", environment, stack) as control_plane:
        header: str = control_plane._http.headers["Authorization"]
    return header.removeprefix("Bearer ")


def test_the_twin_gets_its_own_token_even_with_synadia_token_set(tmp_path: Path) -> None:
    stack = StackConfig(root=tmp_path)
    path = controlplane_token_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("uat_the-twins-own")
    cloud = {"SYNADIA_TOKEN": "uat_the-clouds-secret"}
    assert sent_token(stack.controlplane_url, cloud, stack) == "uat_the-twins-own"
    assert sent_token("https://cloud.synadia.com", cloud, stack) == "uat_the-clouds-secret"
