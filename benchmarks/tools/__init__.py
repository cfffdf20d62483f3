"""Stand-alone measurements: soak, tracing overhead, JetStream publish, the pynats2 layer."""
