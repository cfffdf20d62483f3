"""The client's core: the synchronous machinery above the protocol engine (see docs/architecture.md)."""
