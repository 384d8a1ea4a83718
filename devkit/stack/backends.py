"""The backends by mode: the one place that knows both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from devkit.stack.backend import Backend
from devkit.stack.docker import DockerBackend
from devkit.stack.native import NativeBackend
from devkit.stack.state import DOCKER, NATIVE, Mode

BACKENDS: Final[Mapping[Mode, Backend]] = {NATIVE: NativeBackend(), DOCKER: DockerBackend()}
