"""Benchmarks behind ``wirereport bench``: each prints its figures next to the raw client speed."""
