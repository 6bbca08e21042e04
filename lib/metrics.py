"""Customer metrics. One function per metric, computed in DuckDB SQL; pages never recompute.

Definitions are in docs/metrics.md and shown as help text in the UI.
"""
from __future__ import annotations

from datetime import date, timedelta

from lib import settings, warehouse


def home_kpis(as_of: date | None = None) -> dict:
    """Headline numbers for the landing page: customers, new this month, active, revenue 12m."""
    as_of = as_of or settings.as_of()
    row = warehouse.one(
        "home_kpis",
        as_of=as_of,
        month_start=as_of.replace(day=1),
        active_since=as_of - timedelta(days=settings.get("active_window_days")),
        revenue_since=as_of - timedelta(days=365),
    )
    return row or {}
