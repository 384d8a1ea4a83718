"""Reading back the ports a server chose: whole files only, and nats' own word for "any port"."""

from __future__ import annotations

from pathlib import PurePath

from devkit.port_file import port_in
from devkit.stack.servers import (
    CHOSEN_BY_SERVER,
    nats_config,
    nats_listen_port,
    nats_ports,
)

WRITTEN = '{"nats":["nats://127.0.0.1:33919"],"monitoring":["http://127.0.0.1:37517"]}'


def test_nats_ports_are_read_from_a_whole_ports_file() -> None:
    assert nats_ports(WRITTEN) == (33919, 37517)


def test_a_ports_file_being_written_is_not_read_yet() -> None:
    for cut in (0, 10, len(WRITTEN) - 1):
        assert nats_ports(WRITTEN[:cut]) is None
    assert nats_ports('{"nats":["nats://127.0.0.1:33919"]}') is None  # no monitor yet
    assert nats_ports('{"nats":["nats://127.0.0.1"],"monitoring":["http://h:1"]}') is None


def test_port_0_is_asked_of_nats_as_minus_1_since_its_0_means_4222() -> None:
    assert nats_listen_port(CHOSEN_BY_SERVER) == -1
    assert nats_listen_port(4333) == 4333
    config = nats_config(
        port=CHOSEN_BY_SERVER,
        monitor_port=CHOSEN_BY_SERVER,
        data_dir=PurePath("/data"),
        ports_dir=PurePath("/data/ports"),
    )
    assert "listen: 127.0.0.1:-1\n" in config
    assert "http: 127.0.0.1:-1\n" in config
    assert 'ports_file_dir: "/data/ports"\n' in config


def test_fixed_ports_and_no_ports_file_stay_as_they_were() -> None:
    config = nats_config(port=4222, monitor_port=8222, data_dir=PurePath("/data"))
    assert "listen: 127.0.0.1:4222\n" in config
    assert "http: 127.0.0.1:8222\n" in config
    assert "ports_file_dir" not in config


def test_a_port_file_is_read_only_once_written() -> None:
    assert port_in("41234\n") == 41234
    assert port_in("") is None
