from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from devkit.auth.contexts import (
    ContextError,
    config_dir,
    local_contexts,
    path_option,
    remove_ours,
    select,
    write_contexts,
)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return config_dir({"XDG_CONFIG_HOME": str(tmp_path)})


def test_xdg_config_home_is_honoured(tmp_path: Path) -> None:
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "nats"
    assert config_dir({}).name == "nats"


def test_contexts_are_private_cli_shaped_files(directory: Path, tmp_path: Path) -> None:
    creds = tmp_path / "client.creds"
    [service_path, client_path] = write_contexts(
        directory, local_contexts("nats://127.0.0.1:4222", tmp_path / "service.creds", creds)
    )
    document = json.loads(client_path.read_text())
    assert document["url"] == "nats://127.0.0.1:4222"
    assert document["creds"] == str(creds.resolve())
    assert {"nkey", "jetstream_domain", "tls_first", "inbox_prefix"} <= set(document)
    assert stat.S_IMODE(client_path.stat().st_mode) == 0o600
    assert service_path.name == "local-service.json"


def test_select_remembers_the_previous_one(directory: Path, tmp_path: Path) -> None:
    write_contexts(directory, local_contexts("nats://x", tmp_path / "s", tmp_path / "c"))
    select(directory, "local-service")
    select(directory, "local-client")
    assert (directory / "context.txt").read_text() == "local-client"
    assert (directory / "previous-context.txt").read_text() == "local-service"
    with pytest.raises(ContextError, match="no context named"):
        select(directory, "nope")


def test_remove_deletes_only_ours_and_unselects(directory: Path, tmp_path: Path) -> None:
    write_contexts(directory, local_contexts("nats://x", tmp_path / "s", tmp_path / "c"))
    mine = directory / "context" / "mine.json"
    mine.write_text(json.dumps({"url": "nats://elsewhere"}))
    foreign_named_like_ours = directory / "context" / "cloud-client.json"
    foreign_named_like_ours.write_text(json.dumps({"url": "tls://x", "description": "by hand"}))
    select(directory, "local-client")

    assert remove_ours(directory) == ["local-service", "local-client"]
    assert mine.exists()
    assert foreign_named_like_ours.exists()
    assert not (directory / "context.txt").exists()


def test_a_hand_made_context_is_never_overwritten(directory: Path, tmp_path: Path) -> None:
    path = directory / "context" / "local-client.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"url": "nats://mine"}))
    with pytest.raises(ContextError, match="not written by"):
        write_contexts(directory, local_contexts("nats://x", tmp_path / "s", tmp_path / "c"))
    assert json.loads(path.read_text()) == {"url": "nats://mine"}


def test_options_win_over_environment() -> None:
    assert path_option("/a.creds", {"V": "/b.creds"}, "V") == Path("/a.creds")
    assert path_option("", {"V": "/b.creds"}, "V") == Path("/b.creds")
    assert path_option("", {}, "V") is None
