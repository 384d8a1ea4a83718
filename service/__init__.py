"""The customer balance micro service: NATS request/reply in front of DynamoDB."""

__version__ = "0.1.0"
