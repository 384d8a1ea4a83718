"""The cloud-up ledger records an intent before each call, so a thing made while its answer
was lost is still known as cloud-up's own."""

from __future__ import annotations

from devkit.cloud.ledger import Ledger


def test_an_intent_is_completed_by_the_answer() -> None:
    ledger = Ledger(api_url="http://x", account="POC")
    ledger.intend("account", "POC")
    assert ledger.holds("account", "POC")
    assert ledger.made[0].pending
    ledger.add("account", "POC", "A1")
    assert [(m.name, m.id, m.pending) for m in ledger.made] == [("POC", "A1", False)]


def test_a_thing_found_is_adopted_only_when_an_interrupted_run_intended_it() -> None:
    ledger = Ledger(api_url="http://x", account="POC")
    assert not ledger.adopt("user", "service", "U1")  # someone else's: never ours
    assert ledger.made == []
    ledger.intend("user", "service")
    assert ledger.adopt("user", "service", "U1")
    assert (ledger.made[0].id, ledger.made[0].pending) == ("U1", False)
    assert not ledger.adopt("user", "service", "U2")  # already complete: nothing to adopt
