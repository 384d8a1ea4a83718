"""Toxiproxy started on port 0 is found by its listening socket: only LISTEN rows of its own."""

from __future__ import annotations

from devkit.chaos.toxiproxy import listening_in

TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9745 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0
   1: 0100007F:107E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0
   2: 0100007F:C350 0100007F:9745 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0
"""


def test_the_ports_of_its_own_listening_sockets() -> None:
    assert listening_in(TABLE, {"111"}) == {0x9745}


def test_its_connections_are_not_listening_ports() -> None:
    assert listening_in(TABLE, {"333"}) == set()  # an established connection (01)
    assert listening_in(TABLE, set()) == set()
