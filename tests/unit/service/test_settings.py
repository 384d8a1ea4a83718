from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "NATS_URL",
        "NATS_CREDENTIALS",
        "NATS_CREDS_FILE",
        "DDB_TABLE",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "SEED_ROWS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(variable, raising=False)


def test_defaults_with_an_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDB_TABLE", "balances")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8000")
    settings = load_settings()
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.seed_rows == 1000
    assert settings.region == "us-east-1"


def test_real_aws_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDB_TABLE", "balances")
    with pytest.raises(SettingsError, match="AWS_REGION"):
        load_settings()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert load_settings().region == "eu-west-1"


def test_missing_table_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="DDB_TABLE: is required but not set"):
        load_settings()


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDB_TABLE", "balances")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("NATS_CREDENTIALS", "")
    assert load_settings().nats_credentials is None


def test_both_credential_sources_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDB_TABLE", "balances")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("NATS_CREDENTIALS", "abc")
    monkeypatch.setenv("NATS_CREDS_FILE", "/tmp/x.creds")
    with pytest.raises(SettingsError, match="not both"):
        load_settings()


def test_the_secret_never_shows_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDB_TABLE", "balances")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("NATS_CREDENTIALS", "c2VjcmV0")
    settings = Settings()  # type: ignore[call-arg]
    assert "c2VjcmV0" not in repr(settings)
