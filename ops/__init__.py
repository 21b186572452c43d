"""The operator's kit: health and readiness probes."""
