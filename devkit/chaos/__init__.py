"""Faults injected with real tools: Toxiproxy between the service and its dependencies, and
processes stopped and killed, under open-loop load."""
