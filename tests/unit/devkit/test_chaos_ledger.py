"""The node-fault audit: answers against stored events, by customer and message id; and the
stream's leadership read from a sequence of stream infos."""

from __future__ import annotations

from devkit.chaos.leaders import (
    Sighting,
    all_current_at,
    leader_changes,
    leaderless_after,
    new_leader_at,
)
from devkit.chaos.ledger import Event, audit
from devkit.chaos.load import Shot
from devkit.chaos.sockets import remote_ports_in
from service.protocol import Reply, encode_balance


def answered(client_id: str, balance: int = 7) -> Shot:
    return Shot(0.0, 0.01, client_id, Reply(encode_balance(balance)))


def failed(client_id: str) -> Shot:
    return Shot(0.0, 0.01, client_id, Reply(b"{}", 503, "unavailable"))


def stored(msg_id: str, client_id: str, balance: int = 7) -> Event:
    return Event(seq=1, msg_id=msg_id, client_id=client_id, balance=balance)


def test_each_answer_with_its_event_is_clean() -> None:
    findings = audit([answered("2"), answered("2")], [stored("a-1", "2"), stored("a-2", "2")])
    assert findings.clean


def test_an_answer_without_its_event_is_missing() -> None:
    assert audit([answered("2"), answered("2")], [stored("a-1", "2")]).missing == ["2"]


def test_a_message_id_stored_twice_is_a_duplicate_even_when_counts_agree() -> None:
    findings = audit([answered("2")], [stored("a-1", "2"), stored("a-1", "2")])
    assert findings.duplicated == ["a-1"]
    assert not findings.missing


def test_a_failed_request_may_have_its_event_but_no_more() -> None:
    assert audit([answered("3"), failed("3")], [stored("a-1", "3"), stored("a-2", "3")]).clean
    extra = audit([answered("3")], [stored("a-1", "3"), stored("a-2", "3")])
    assert extra.surplus == ["3"]


def test_an_answered_balance_must_be_recorded() -> None:
    findings = audit([answered("4", balance=100)], [stored("a-1", "4", balance=99)])
    assert findings.unrecorded_balances == [("4", 100)]


def test_the_new_leader_is_the_first_other_leader_after_the_fault() -> None:
    seen = [
        Sighting(1.0, "n1"),
        Sighting(2.1, "n1"),  # the old leader, still answering after the fault
        Sighting(2.5, None),
        Sighting(4.0, "n2", ("n1", "n3"), ("n3",)),
        Sighting(9.0, "n2", ("n1", "n3"), ("n1", "n3")),
    ]
    elected = new_leader_at(seen, 2.0, "n1")
    assert elected is not None
    assert (elected.at_s, elected.leader) == (4.0, "n2")
    assert new_leader_at(seen, 9.5, "n1") is None  # nothing seen after
    caught_up = all_current_at(seen, 4.0)
    assert caught_up is not None
    assert caught_up.at_s == 9.0


def test_the_old_leader_elected_again_after_a_leaderless_stretch_ends_the_window() -> None:
    seen = [
        Sighting(1.0, "n1"),
        Sighting(2.1, "n1"),  # still answering just after the fault: not a new term
        Sighting(2.5, None),
        Sighting(7.0, "n1", ("n2", "n3"), ("n2", "n3")),
    ]
    elected = new_leader_at(seen, 2.0, "n1")
    assert elected is not None
    assert (elected.at_s, elected.leader) == (7.0, "n1")
    assert new_leader_at(seen[:2], 2.0, "n1") is None


def test_connected_ports_are_the_remote_ports_of_established_rows() -> None:
    table = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9745 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0
   1: 0100007F:C350 0100007F:107E 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0
"""
    assert remote_ports_in(table, {"333", "111"}) == {0x107E}
    assert remote_ports_in(table, {"111"}) == set()


def test_later_leaderless_stretches_run_from_the_last_leader_seen_to_the_next() -> None:
    seen = [
        Sighting(4.0, "n2"),
        Sighting(5.0, "n2"),
        Sighting(6.0, None),
        Sighting(6.5, None),
        Sighting(7.0, "n1"),
        Sighting(8.0, None),
    ]
    assert leaderless_after(seen, 4.0) == [(5.0, 7.0), (7.0, 8.0)]
    assert leaderless_after(seen[:2], 4.0) == []
    assert leader_changes(seen) == [(4.0, "n2"), (6.0, None), (7.0, "n1"), (8.0, None)]
