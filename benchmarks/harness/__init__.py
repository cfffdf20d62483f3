"""The harness: worker processes, measurement, the embedded server, reports and plots."""
