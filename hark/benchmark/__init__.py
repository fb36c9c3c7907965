"""Benchmarks run by `hark bench` and `make bench` (JSON out; never asserted in tests)."""
