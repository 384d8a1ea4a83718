"""The AWS CDK CLI (npm `aws-cdk`, pinned), installed into the virtual environment's `node/`
folder on first use, the way devkit.gotools builds Go tools: only `cdk deploy` and
`cdk destroy` need it; synthesizing for the tests and `--dry-run` uses the library alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
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


def ensure_cdk_cli(prefix: Path | None = None) -> Path:
    """The pinned CLI, installed with `npm install --prefix` when it is missing or another version."""
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
