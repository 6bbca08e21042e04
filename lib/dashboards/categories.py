"""What customers buy: revenue, buyers and repeat rate by category and by order channel, and
monthly trends, within the Overview's filters (order date window and customer attributes).

All aggregation runs in DuckDB (lib/core/sql/marketing_preferences.sql, ``category_*``); the
results are at most categories x channels x months rows.

* revenue      - net revenue (amount - refund) of the non-cancelled orders in the window;
* buyers       - live customers with a kept order (paid or partially refunded) in the category;
* repeat rate  - of those buyers, the share with two or more kept orders in the category within
                 the window;
* AOV          - revenue / kept orders of the category in the window.
"""

from __future__ import annotations

import pandas as pd

from lib.core import warehouse
from lib.dashboards.filters import Filters


def _params(f: Filters) -> dict:
    return {"start": f.start, "end": f.end, **f.dims()}


def summary(f: Filters) -> pd.DataFrame:
    """One row per category: revenue, buyers, orders, repeat rate, average order value."""
    frame = warehouse.read("category_summary", **_params(f))
    for col in ("revenue", "repeat_rate", "avg_order_value"):
        frame[col] = frame[col].astype(float)
    frame["revenue_share"] = frame["revenue"] / frame["revenue"].sum() if len(frame) else []
    return frame


def by_channel(f: Filters) -> pd.DataFrame:
    """Revenue and buyers per category and order channel."""
    frame = warehouse.read("category_by_channel", **_params(f))
    frame["revenue"] = frame["revenue"].astype(float)
    return frame


def monthly(f: Filters) -> pd.DataFrame:
    """Revenue and buyers per calendar month and category."""
    frame = warehouse.read("category_monthly", **_params(f))
    frame["revenue"] = frame["revenue"].astype(float)
    return frame
