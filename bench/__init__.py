"""Benchmarks at 1M customers / 20M events: `python -m bench.<area>`; results in docs/benchmarks.md.

Benchmarks run in demo mode on copies of a generated warehouse; these keys are for that only.
"""

import os
import time

os.environ.setdefault("C360_DEMO", "1")
os.environ.setdefault("C360_COOKIE_KEY", "bench-cookie-key-0123456789-abcdefghijklmnop")

from lib.core import warehouse as _warehouse  # noqa: E402 - after the keys

_warehouse.allow_inline_sql()  # benchmarks set up and count tables with plain SQL


def timed(fn):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


SOURCE_1M = "/tmp/bench/warehouse-1m.duckdb"  # built by `python -m lib.cli demo --customers 1000000`


def working_copy(source: str, workdir: str):
    """A fresh copy of the benchmark warehouse in `workdir` (benchmarks write to it)."""
    import shutil
    from pathlib import Path

    work = Path(workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    path = work / "warehouse.duckdb"
    shutil.copyfile(source, path)
    return work, path
