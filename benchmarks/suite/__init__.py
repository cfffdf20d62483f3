"""The suite: one module per scenario, each declaring ``SCENARIO`` (run by ``python -m benchmarks``)."""
