"""Per-customer category preferences, computed set-based in DuckDB into customer_preferences.

One row per live customer with a kept order (paid or partially refunded) or a browse/cart event
in the window, as of a date (data strictly before as_of + 1 day):

* favourite category - the category of most kept orders (ties: more net revenue, then the name);
* categories bought  - every category of a kept order (sorted);
* browsed, not bought- categories browsed or put in the cart in the last ``window_days`` days with
                       no kept order in that category in the same days;
* price level        - the customer's mean net order value against the median net order value of
                       their favourite category: below LOW_RATIO x median "low", above
                       HIGH_RATIO x median "high", otherwise "mid";
* next category      - the category to offer next (lib/marketing/recommend.py explains the model).

``refresh()`` rebuilds the table (and the co-purchase similarity it uses) in one transaction;
the CLI runs it (``python -m lib.cli preferences refresh``), and so does every committed load
(lib/core/hooks): a few seconds at 1M customers (docs/benchmarks.md). It is derived data, like
the dashboards' aggregates: no user action, nothing personal (category codes only).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import pandas as pd

from lib.core import hooks, settings, warehouse
from lib.marketing.queries import cutoff

DEFAULT_WINDOW_DAYS = 90
LOW_RATIO = 0.75
HIGH_RATIO = 1.33
PRICE_LEVELS = ("low", "mid", "high")


def params(as_of: date, window_days: int = DEFAULT_WINDOW_DAYS) -> dict[str, Any]:
    cut = cutoff(as_of)
    return {
        "as_of": as_of,
        "cutoff": cut,
        "window_start": cut - timedelta(days=window_days),
        "window_days": window_days,
        "low_ratio": LOW_RATIO,
        "high_ratio": HIGH_RATIO,
    }


@warehouse.retrying
def refresh(as_of: date | None = None, window_days: int = DEFAULT_WINDOW_DAYS) -> dict:
    """Rebuild category_similarity and customer_preferences as of a date; returns a summary."""
    if not 1 <= int(window_days) <= 3660:
        raise ValueError("window_days must be between 1 and 3660")
    as_of = as_of or settings.as_of()
    p = params(as_of, int(window_days))
    started = time.perf_counter()
    with warehouse.transaction() as tx:
        tx.run("preferences_stage_purchases", cutoff=p["cutoff"])
        tx.run("category_similarity_delete")
        tx.run("category_similarity_insert")
        tx.run("preferences_delete")
        tx.run("preferences_insert", **p)
        tx.run("preferences_drop_stage")
        rows = int(tx.scalar("preferences_count"))
    return {
        "as_of": as_of,
        "window_days": int(window_days),
        "customers": rows,
        "seconds": round(time.perf_counter() - started, 2),
    }


# Loads that change no order or event: a customer typed in, deleted or restored by hand (the
# nightly job and readers' live-customer filters cover those; a 1M rebuild per click does not).
_NO_PURCHASES_CHANGED = frozenset({"create", "delete", "restore"})


@hooks.after_load
def _refresh_after_load(load: hooks.Load) -> None:
    """Imports and merges change what customers bought and browsed: rebuild the preferences."""
    if load.kind not in _NO_PURCHASES_CHANGED:
        refresh()


def meta() -> dict:
    """As-of date, window and size of the stored preferences ({} when never refreshed)."""
    row = warehouse.one("preferences_meta") or {}
    return row if row.get("customers") else {}


def of_customer(customer_id: int) -> dict | None:
    """The stored preferences of one customer (None when the customer has none)."""
    row = warehouse.one("preferences_of_customer", customer_id=int(customer_id))
    if row is None:
        return None
    for key in ("categories_bought", "browsed_not_bought"):
        row[key] = list(row[key] or [])
    return row


def next_category(customer_ids) -> dict[int, str]:
    """customer id -> the next category to offer, for the live customers among the ids that have
    one (an export column: ids without a recommendation are absent)."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return {}
    frame = warehouse.read("preferences_next_category", ids=ids)
    return {int(r.customer_id): str(r.next_category) for r in frame.itertuples() if pd.notna(r.next_category)}


def categories() -> list[str]:
    """Categories seen in orders, most ordered first (pick lists)."""
    return [str(v) for v in warehouse.read("preferences_categories")["value"]]


def similarity() -> pd.DataFrame:
    """The co-purchase similarity of the latest refresh."""
    return warehouse.read("category_similarity_all")
