"""The core: plain synchronous machinery that never imports nats-py (see docs/architecture.md)."""
