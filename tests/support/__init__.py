"""Helpers the tests share: commands as a person runs them, real servers, service replicas."""
