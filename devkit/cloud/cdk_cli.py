"""The AWS CDK CLI (npm `aws-cdk`, pinned), installed into the virtual environment's `node/`
folder on first use, the way devkit.gotools builds Go tools: only `cdk deploy` and
`cdk destroy` need it; synthesizing for the tests and `--dry-run` uses the library alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from devkit.cloud.aws import DeployError

CDK_CLI_VERSION = "2.1149.0"
"""Exact: the CLI reads the cloud assembly aws-cdk-lib writes; a newer lib may need a newer CLI."""


class CdkCliError(DeployError):
    """npm is missing or cannot reach its registry: a setup a person must fix."""

    exit_code = 2


def cli_prefix() -> Path:
    return Path(sys.executable).parent.parent / "node"


def cli_path(prefix: Path | None = None) -> Path:
    return (prefix or cli_prefix()) / "node_modules" / ".bin" / "cdk"


def installed_version(cdk: Path) -> str | None:
    if not cdk.exists():
        return None
    result = subprocess.run([str(cdk), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.split()[0] if result.returncode == 0 and result.stdout else None


def ensure_cdk_cli(prefix: Path | None = None, environ: Mapping[str, str] = os.environ) -> Path:
    """The pinned CLI, installed with `npm install --prefix` when it is missing or another version.

    CDK_CLI names another executable (one on a machine without npm, or a test's stand-in); it
    must report the pinned version too.
    """
    chosen = environ.get("CDK_CLI")
    if chosen:
        if installed_version(Path(chosen)) != CDK_CLI_VERSION:
            raise CdkCliError(f"CDK_CLI={chosen} is not the CDK CLI {CDK_CLI_VERSION}")
        return Path(chosen)
    cdk = cli_path(prefix)
    if installed_version(cdk) == CDK_CLI_VERSION:
        return cdk
    npm = shutil.which("npm")
    if npm is None:
        raise CdkCliError(
            f"npm is not on PATH to install the CDK CLI (aws-cdk@{CDK_CLI_VERSION}); install"
            " Node.js 22 or later"
        )
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix or cli_prefix()),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"aws-cdk@{CDK_CLI_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or installed_version(cdk) != CDK_CLI_VERSION:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CdkCliError(
            f"npm could not install aws-cdk@{CDK_CLI_VERSION} into {prefix or cli_prefix()}"
            f" (is the npm registry reachable?): {detail}"
        )
    return cdk


def require_node() -> None:
    """aws-cdk-lib runs its constructs in Node.js (jsii): say so before the import fails."""
    if shutil.which("node") is None:
        raise CdkCliError(
            "the CDK path needs Node.js on PATH (aws-cdk-lib runs on it); install 22+"
        )
