"""What a node's JetStream report says about the application account, before the bootstrap."""

from __future__ import annotations

from devkit.stack.readiness import jetstream_accounts, leads_every_node


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


def test_the_meta_group_is_whole_once_its_leader_sees_every_other_node_current() -> None:
    both = [{"name": "nats-2", "current": True}, {"name": "nats-3", "current": True}]
    whole = {"meta_cluster": {"leader": "nats", "cluster_size": 3, "replicas": both}}
    assert leads_every_node(whole, "nats", 3)
    assert not leads_every_node(whole, "nats-2", 3)  # a follower speaks for no one
    # Measured right after the routes form: elected by two nodes, the third not yet heard from.
    early = {"meta_cluster": {"leader": "nats", "cluster_size": 2, "replicas": both[:1]}}
    assert not leads_every_node(early, "nats", 3)
    behind = [both[0], {"name": "nats-3", "current": False}]
    assert not leads_every_node(
        {"meta_cluster": {**whole["meta_cluster"], "replicas": behind}}, "nats", 3
    )
    offline = [both[0], {"name": "nats-3", "current": True, "offline": True}]
    assert not leads_every_node(
        {"meta_cluster": {**whole["meta_cluster"], "replicas": offline}}, "nats", 3
    )
    assert not leads_every_node({}, "nats", 3)
