"""The local stack: nats-server in operator mode, a DynamoDB emulator and the service replicas,
as plain processes (native) or through Compose (docker)."""
