"""Pre-aggregated tables behind the dashboards, rebuilt in full by ``refresh()``.

Why they exist: counting *distinct* customers over millions of events is what makes a
dashboard slow (~300 ms per question at 1M customers / 20M events). The tables below turn
every Overview figure into a scan of at most one row per customer plus a few small cubes:

* ``agg_segs``: one row per combination of channel, province, customer type, industry and
  lifecycle stage ("segment"); the other tables carry only its small integer id, and the
  sidebar filters are applied to this table after grouping by segment.
* ``agg_day`` / ``agg_month``: additive cubes (registrations, first kept orders, kept orders,
  net revenue) per day / month and segment: whole months of a range from the monthly cube, its
  partial edge months from the daily one.
* ``agg_customer``: one row per live customer with first/second kept order dates and two
  63-bit month masks (events, kept orders) relative to ``agg_meta.base_month``: the only
  per-customer scan the Overview makes, for its distinct counts.
* ``agg_customer_month``: one row per customer and month with events or kept orders, a bit per
  day of the month for each, and the previous active day / next active month; it gives exact
  answers for the partial months at the edges of any date range.
* ``agg_active_month`` (monthly active customers), ``agg_cohort`` (first-purchase cohorts) and
  ``agg_filter_values`` (the sidebar filters' options).

How the exact distinct count works is written up in docs/metrics.md ("How the numbers are
computed"). The tables are derived data: ``refresh()`` drops and rebuilds them in one
transaction, so it is idempotent, safe on an empty warehouse, and readers keep seeing the
previous version until it commits; when customers, orders and events hash to what they were
built from, it keeps them without writing. Call it after imports, merges, erasures and lifecycle
recomputes; ``python -m lib.cli aggregates refresh`` does the same from a shell.
Measured full rebuild times are in docs/benchmarks.md (## Dashboards).
"""

from __future__ import annotations

import time
from datetime import date

from lib.core import hooks, settings, warehouse

# Order matters: later statements read the temp tables built by earlier ones.
BUILD_STEPS = (
    "agg_build_live",
    "agg_build_kept_orders",
    "agg_build_buyers",
    "agg_build_segs",
    "agg_build_filter_values",
    "agg_build_live_seg",
    "agg_build_customer_months",
    "agg_build_customer_month",
    "agg_build_customer",
    "agg_build_day",
    "agg_build_month",
    "agg_build_active_month",
    "agg_build_cohort",
)

MASK_MONTHS = 63  # bits in a BIGINT mask that stay positive


def add_months(day: date, months: int) -> date:
    """First day of the month `months` after day's month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def base_month_for(last_day: date | None) -> date:
    """The oldest month the masks cover: 62 months before the newest of data and "now"."""
    top = max(d for d in (last_day, settings.as_of()) if d is not None)
    return add_months(top.replace(day=1), -(MASK_MONTHS - 1))


@warehouse.retrying
def refresh(force: bool = False) -> dict:
    """Rebuild every dashboard aggregate from customers, orders and events; returns agg_meta
    with `rebuilt`: False when they were kept.

    They are kept, with no write, when customers, orders and events hash to what they were
    built from and the masks' base month is the same (unless `force`): a rebuild's commit moves
    the data version and so empties every page's cache, which the hourly job did for everybody
    even when nothing had changed (10 s of rebuild at 1M, 34 s under load; the check is ~2 s).
    Safe to call at any time (empty warehouse, twice in a row, while the app reads).
    """
    started = time.perf_counter()
    if not force:
        built = warehouse.one("agg_meta_built_from") or {}
        span = warehouse.one("agg_data_span") or {}
        if (
            built.get("source_fingerprint") is not None
            and built.get("base_month") == base_month_for(span.get("last_day"))
            and built["source_fingerprint"] == warehouse.scalar("agg_source_fingerprint")
        ):
            return {**(warehouse.one("agg_meta_row") or {}), "rebuilt": False}
    with warehouse.transaction() as tx:
        span = tx.one("agg_data_span") or {}
        base = base_month_for(span.get("last_day"))
        # hashed in the snapshot the tables are built from, so it names exactly what they count
        fingerprint = tx.scalar("agg_source_fingerprint")
        for step in BUILD_STEPS:
            if step == "agg_build_customer":
                tx.run(step, base_month=base)
            else:
                tx.run(step)
        tx.script(warehouse.query("agg_drop_temps"))
        tx.run(
            "agg_build_meta",
            seconds=round(time.perf_counter() - started, 3),
            base_month=base,
            first_day=span.get("first_day"),
            last_day=span.get("last_day"),
            fingerprint=fingerprint,
        )
        meta = tx.one("agg_meta_row")
    return {**(meta or {}), "rebuilt": True}


@hooks.after_load
def _refresh_after_load(load: hooks.Load) -> None:
    """Imports and merges change what every aggregate counts: rebuild them."""
    refresh()


def meta() -> dict | None:
    """When the aggregates were last rebuilt (None if never)."""
    return warehouse.one("agg_meta_row")
