"""A local twin of Synadia Cloud's HTTP gateway: HTTP onto NATS with a token that stands for one
NATS user, so HTTP callers (web apps, partners, scripts) can be built and tested offline."""
