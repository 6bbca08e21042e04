"""RFM: recency, frequency and monetary quintiles and the 11 named segments, as of a date.

Computed set-based in DuckDB (lib/core/sql/marketing_rfm.sql, query ``rfm_scores``):
* purchases = orders paid or partially refunded, strictly before as_of + 1 day;
  value = amount - refund_amount;
* recency = days from the last purchase date to as_of; frequency = purchases; monetary = value;
* scores 1..5 by NTILE(5) (5 = most recent, most frequent, highest spend); equal values share
  the lowest quintile their group spans, so ties never split;
* segment from the grid below on R and FM = round-half-up((F + M) / 2).

The grid is the single source of the rules; docs/metrics.md prints the same table and a test
checks they agree. ``refresh`` materialises the scores into ``customer_rfm`` (one as-of date)
so that the segment builder can filter on them without recomputing.
"""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd

from lib.security import audit, auth
from lib.core import settings, warehouse
from lib.marketing.queries import compose

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)

# GRID[r_score][fm_score - 1] -> segment. Rows R = 5 (bought most recently) down to R = 1.
GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Champions"),
    3: ("About to Sleep", "Need Attention", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "About to Sleep", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"),
}


def segment_for(r_score: int, f_score: int, m_score: int) -> str:
    """The named segment of one score triple (the same rule the SQL applies)."""
    return GRID[r_score][(f_score + m_score + 1) // 2 - 1]


def grid_params() -> dict[str, list]:
    rows = [(r, fm, GRID[r][fm - 1]) for r in GRID for fm in range(1, 6)]
    return {
        "grid_r": [r for r, _, _ in rows],
        "grid_fm": [fm for _, fm, _ in rows],
        "grid_segment": [s for _, _, s in rows],
    }


def _params(as_of: date | None) -> dict:
    return {"as_of": as_of or settings.as_of(), **grid_params()}


def scores(as_of: date | None = None) -> pd.DataFrame:
    """Per-customer scores (small warehouses and tests; pages use the aggregates)."""
    return warehouse.read(warehouse.raw_sql(compose("rfm_scores") + " ORDER BY customer_id"), **_params(as_of))


def _snapshot_is(as_of: date) -> bool:
    # Valid only while the snapshot's rules equal the grid in this module: refresh() is the only
    # writer and uses the same grid, so a matching date means matching numbers.
    return snapshot_info().get("as_of") == as_of


def summary(as_of: date | None = None) -> pd.DataFrame:
    """Per segment: customers, customer share, revenue, revenue share, averages.

    Read from the customer_rfm snapshot when it holds this date (milliseconds at 1M
    customers), otherwise computed from the orders (seconds)."""
    as_of = as_of or settings.as_of()
    if _snapshot_is(as_of):
        frame = warehouse.read("rfm_summary_snapshot")
    else:
        frame = warehouse.read(compose("rfm_summary"), **_params(as_of))
    for col in ("revenue", "avg_value", "avg_frequency", "avg_recency_days", "customer_share", "revenue_share"):
        frame[col] = frame[col].astype(float)
    return frame


def score_grid(as_of: date | None = None) -> pd.DataFrame:
    as_of = as_of or settings.as_of()
    if _snapshot_is(as_of):
        return warehouse.read("rfm_score_grid_snapshot")
    return warehouse.read(compose("rfm_score_grid"), **_params(as_of))


def snapshot_info() -> dict:
    """As-of date and size of the materialised snapshot the segment builder uses."""
    return warehouse.one("rfm_snapshot_info") or {"as_of": None, "customers": 0}


def refresh(user: auth.User, as_of: date | None = None) -> int:
    """Rebuild customer_rfm as of a date (derived data; audited as a job)."""
    auth.require(user, "manage_segments")
    return _refresh(user, as_of or settings.as_of())


@warehouse.retrying
def _refresh(user: auth.User, as_of: date) -> int:
    with warehouse.transaction() as tx:
        tx.run("rfm_refresh_delete")
        tx.run(compose("rfm_refresh_insert"), **_params(as_of))
        count = tx.scalar("customer_rfm_count")
        audit.record(tx, user, "rfm.refresh", "customer_rfm", str(as_of), detail={"customers": count})
    return int(count)


_snapshot_lock = threading.Lock()  # one rebuild at a time in this process


def ensure_snapshot(user: auth.User, as_of: date | None = None) -> dict:
    """Refresh the snapshot when it is missing or older than the data date and the user may.

    Several people opening the Segments page at once rebuild it once: the others wait for that
    rebuild and use it (a load test had three sessions rebuild it together, and all but one
    failed on the table's primary key). A rebuild by another process in the same moment fails
    this one's commit the same way: its snapshot is then used."""
    as_of = as_of or settings.as_of()
    info = snapshot_info()
    if info.get("as_of") == as_of or not auth.can(user, "manage_segments"):
        return info
    with _snapshot_lock:
        if snapshot_info().get("as_of") != as_of:
            try:
                refresh(user, as_of)
            except Exception:
                if snapshot_info().get("as_of") != as_of:
                    raise  # not another rebuild of the same snapshot
        return snapshot_info()
