"""Benchmarks: ``python -m tests.bench [NAME]`` (see tests/bench/__main__.py)."""
