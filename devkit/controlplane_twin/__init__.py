"""The local twin of Synadia Cloud's control-plane API, backed by the local nats-server."""
