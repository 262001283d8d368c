"""Baseline rules: a role against the least-privilege profile its class is held to (see rolewatch.baseline)."""
