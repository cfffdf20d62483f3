"""Benchmarks of beluga_nats_sync against its peers, measured in the same run as ratios."""
