"""Benchmarks: scripts that print figures, never tests (see bench/README.md)."""
