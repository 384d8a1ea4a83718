"""The fields the published document declares for the shapes the twin passes on from the
server's own answers (STREAM.INFO): the server sends more, and the API never shows what it does
not declare. tests/unit/devkit/test_controlplane_twin_bodies.py holds these to the document."""

from __future__ import annotations

from typing import Final

STREAM_INFO_FIELDS: Final = frozenset(
    {"alternates", "cluster", "config", "created", "domain", "id", "jetstream_type", "name"}
    | {"sources", "state", "ts"}
)
"""JSStreamInfoResponse."""

STREAM_CONFIG_FIELDS: Final = frozenset(
    {"allow_atomic", "allow_batched", "allow_direct", "allow_msg_counter", "allow_msg_schedules"}
    | {"allow_msg_ttl", "allow_rollup_hdrs", "compression", "consumer_limits", "deny_delete"}
    | {"deny_purge", "description", "discard", "discard_new_per_subject", "duplicate_window"}
    | {"first_seq", "max_age", "max_bytes", "max_consumers", "max_msg_size", "max_msgs"}
    | {"max_msgs_per_subject", "metadata", "name", "no_ack", "num_replicas", "persist_mode"}
    | {"placement", "republish", "retention", "sealed", "sources", "storage"}
    | {"subject_delete_marker_ttl", "subject_transform", "subjects", "template_owner"}
)
"""JSStreamConfigRequest, which the document also uses for a stream's config in answers."""

STREAM_STATE_FIELDS: Final = frozenset(
    {"bytes", "consumer_count", "deleted", "first_seq", "first_ts", "last_seq", "last_ts"}
    | {"lost", "messages", "num_deleted", "num_subjects", "subjects"}
)
"""StreamState."""

CLUSTER_FIELDS: Final = frozenset(
    {"leader", "leader_since", "name", "raft_group", "replicas", "system_account"}
    | {"traffic_account"}
)
"""ClusterInfo."""
