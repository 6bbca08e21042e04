"""Warm a new server process once, in the background, so that nobody's first click pays for it.

A fresh process imports scikit-learn, SciPy and plotly on the first visit of the page that
needs them (about a second of CPU for scikit-learn alone) and opens the warehouse on the first
page view. serve.py starts this once per process, right after the server starts: the imports
and the warehouse's first connection happen while nobody is waiting, then the long-lived objects
are frozen out of garbage collection (session.prepare_process). A failure here is logged and
changes nothing: the page that needs the module imports it as before.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

log = logging.getLogger(__name__)

# What pages import lazily or on their first visit, heaviest first.
MODULES = (
    "sklearn.ensemble",
    "sklearn.calibration",
    "sklearn.inspection",
    "sklearn.metrics",
    "scipy.optimize",
    "scipy.special",
    "plotly.express",
    "plotly.graph_objects",
    "lib.marketing.churn",
    "lib.marketing.clv",
    "lib.marketing.segments",
    "lib.marketing.audience",
    "lib.marketing.rfm",
    "lib.dashboards.metrics",
    "lib.dashboards.charts",
    "lib.dashboards.customers",
    "lib.stewardship.quality",
    "lib.stewardship.review",
    "lib.stewardship.dedup",
    "lib.admin.audit_log",
)

_started = False
_lock = threading.Lock()
timings: dict[str, float] = {}  # what the warm-up took (seconds), for the benchmarks


def start() -> threading.Thread | None:
    """Start the warm-up thread once per process; None when it already ran or runs."""
    global _started
    with _lock:
        if _started:
            return None
        _started = True
    thread = threading.Thread(target=_warm, name="c360-warmup", daemon=True)
    thread.start()
    return thread


def _warm() -> None:
    started = time.perf_counter()
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a page imports it again and shows its own error
            log.exception("warm-up: importing %s failed", name)
    timings["imports"] = time.perf_counter() - started
    try:
        from lib.core import warehouse

        warehouse.data_version()  # the first connection (and a lake's catalog attach)
    except Exception:  # noqa: BLE001 - the first page view reports a warehouse problem itself
        log.exception("warm-up: opening the warehouse failed")
    from lib.ui import session

    session.prepare_process()
    timings["total"] = time.perf_counter() - started
    log.info("warm-up done in %.1f s", timings["total"])
