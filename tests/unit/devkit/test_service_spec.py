"""What the CDK path reads from the Copilot manifest: durations, the environment's overrides,
the secret's path, and a manifest the CDK path cannot deploy refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devkit import platform_names
from devkit.cloud.aws import DeployError
from devkit.cloud.service_spec import SERVICE, load_service_spec, seconds
from service import names
from tests.support.commands import ROOT


@pytest.mark.parametrize(("text", "value"), [("10s", 10), ("0s", 0), ("1m", 60)])
def test_durations_read_as_copilot_writes_them(text: str, value: int) -> None:
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["", "10", "s", "1h", "1.5s"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(DeployError, match="is not a duration"):
        seconds(text)


def test_an_environment_gets_its_overrides_and_its_own_secret() -> None:
    dev = load_service_spec("dev")
    staging = load_service_spec("staging")
    assert dev.variables["LOG_LEVEL"] == "DEBUG"
    assert staging.variables["LOG_LEVEL"] == "INFO"
    assert dev.secret_parameter == "/copilot/customer-balance/dev/secrets/nats_credentials"
    assert staging.stack_name == "customer-balance-staging-balance-cdk"
    assert dev.table.key_attribute == names.DDB_KEY_ATTRIBUTE
    assert dev.variables["NATS_URL"] == platform_names.CLOUD_NATS_URL


def test_a_count_range_is_refused_for_the_cdk_path(tmp_path: Path) -> None:
    copilot = tmp_path / "copilot"
    shutil.copytree(ROOT / "copilot", copilot)
    manifest = copilot / SERVICE / "manifest.yml"
    manifest.write_text(
        manifest.read_text().replace("count: 3 ", "count: {range: 1-6, cpu_percentage: 70} ")
    )
    with pytest.raises(DeployError, match="deploys a fixed count"):
        load_service_spec("dev", copilot)
