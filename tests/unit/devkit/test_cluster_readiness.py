"""What a node's JetStream report says about the application account, before the bootstrap."""

from __future__ import annotations

from devkit.stack.readiness import jetstream_accounts


def test_an_account_is_ready_only_once_the_node_reports_its_jetstream() -> None:
    jsz = {
        "account_details": [
            {"name": "POC", "id": "ACCOUNT1"},
            {"name": "no id"},
        ]
    }
    assert jetstream_accounts(jsz) == ["ACCOUNT1"]
    # A node that has not loaded the account yet reports none (measured on 2.15.1).
    assert jetstream_accounts({"account_details": []}) == []
    assert jetstream_accounts({}) == []
