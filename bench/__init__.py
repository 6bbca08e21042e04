"""Benchmarks at 1M customers / 20M events: `python -m bench.<area>`; results in docs/benchmarks.md.

Benchmarks run in demo mode on copies of a generated warehouse; these keys are for that only.
"""
import os
import time

os.environ.setdefault("C360_DEMO", "1")
os.environ.setdefault("C360_COOKIE_KEY", "bench-cookie-key-0123456789-abcdefghijklmnop")


def timed(fn):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result
