"""The repository's own files the platform drives: the Compose file and the Copilot workspace.

The platform runs from a checkout (`pip install -e`), so they are found beside the package;
the image never carries the platform, so nothing in `service/` needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from service.operator_errors import OperatorError

ROOT: Final = Path(__file__).resolve().parent.parent
COMPOSE_FILE: Final = ROOT / "compose" / "docker-compose.yml"
COPILOT_DIR: Final = ROOT / "copilot"


class CheckoutError(OperatorError):
    """A file of the repository is missing: the platform is not running from a checkout."""


def repository_file(path: Path) -> Path:
    """`path`, or a clear error when the platform was installed without its repository."""
    if not path.exists():
        raise CheckoutError(
            f"{path} does not exist: run the tasks from a clone of the repository"
            " installed with `pip install -e '.[dev]'`"
        )
    return path
