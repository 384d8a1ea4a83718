"""Local NATS security like Synadia Cloud's: JWTs, the local operator and users, their
permissions, NATS CLI contexts, and the pinned NATS CLI."""
