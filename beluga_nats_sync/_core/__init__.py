"""The client's core: everything that does not import nats-py (see docs/architecture.md)."""
