"""Customer metrics. One function per question, computed in DuckDB SQL; pages never recompute.

Every dashboard number is defined once, here and in docs/metrics.md, and the help text the UI
shows comes from `definition()`. The Overview reads the pre-aggregated tables of
lib/dashboards/aggregates.py (rebuilt by `aggregates.refresh()` after each load); how their parts add up
to exact distinct counts for any date range is explained in docs/metrics.md.

Definitions (a period is a closed range of days [start, end]; "kept order" = an order paid or
partially refunded; net revenue = amount - refund of every order that is not cancelled; only
live customers count: not merged into another record and not deleted):

* customers      - live customers registered on or before the period's last day;
* new customers  - registered within the period;
* active         - at least one event of any type within the period;
* revenue        - net revenue of orders placed within the period;
* AOV            - revenue / kept orders within the period;
* repurchase rate- of the customers with a kept order within the period, the share whose
                   second kept order ever is on or before the period's last day;
* churn rate     - of the customers whose first kept order is more than `churn_window_days`
                   before the period's last day, the share with no kept order within the last
                   `churn_window_days` days up to it (same rule as lifecycle stage "churned");
* average LTV    - net revenue up to the period's last day / customers with a kept order by then.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from lib.dashboards import aggregates
from lib.core import settings, warehouse
from lib.dashboards.filters import Filters
from lib.core.i18n import t

# Metric key -> whether a higher value is good (KPI delta colours) and how it is shown.
KPIS: dict[str, dict] = {
    "customers": {"kind": "count", "higher_is_better": True},
    "new_customers": {"kind": "count", "higher_is_better": True},
    "active": {"kind": "count", "higher_is_better": True},
    "revenue": {"kind": "money", "higher_is_better": True},
    "aov": {"kind": "money", "higher_is_better": True},
    "repurchase_rate": {"kind": "rate", "higher_is_better": True},
    "churn_rate": {"kind": "rate", "higher_is_better": False},
    "avg_ltv": {"kind": "money", "higher_is_better": True},
}
STAGES = ("prospect", "intent", "customer", "repeat", "churned")
DEFINED = tuple(KPIS) + ("lifecycle", "cohort", "trends")


def definition(key: str) -> str:
    """The exact definition of a metric in the current language (help text, docs)."""
    return t(
        f"dash.def.{key}", active_days=settings.get("active_window_days"), churn_days=settings.get("churn_window_days")
    )


# ---------------------------------------------------------------- window arithmetic


def _month(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return aggregates.add_months(day, 1) - timedelta(days=1)


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


FULL_MONTH = (1 << 31) - 1
ONE_DAY = timedelta(days=1)


def range_params(prefix: str, start: date, end: date) -> dict:
    """Bind parameters that split [start, end] into whole months and partial edge months.

    X_m1..X_m2: the whole calendar months inside the range (none when X_m1 > X_m2), read from
    the monthly cubes; [X_a, X_d1] and [X_d2, X_b]: the days of the partial first and last
    month (empty ranges when those months are whole), read from the daily cubes.
    """
    first_whole = start if start.day == 1 else aggregates.add_months(start, 1)
    last_whole = _month(end) if end == _month_end(end) else aggregates.add_months(end, -1)
    if first_whole > last_whole:  # no whole month: the range is one or two partial months
        d1 = min(_month_end(start), end)
        d2 = end + ONE_DAY if _month(start) == _month(end) else _month(end)
    else:
        d1 = first_whole - ONE_DAY  # start - 1 when the first month is whole: empty
        d2 = _month_end(last_whole) + ONE_DAY
    return {
        f"{prefix}_a": start,
        f"{prefix}_b": end,
        f"{prefix}_m1": first_whole,
        f"{prefix}_m2": last_whole,
        f"{prefix}_d1": d1,
        f"{prefix}_d2": d2,
    }


def upto_params(prefix: str, day: date) -> dict:
    """Bind parameters for "everything up to `day`": whole months <= X_um plus days
    [X_ua, X_ub] of day's month (an empty range when day is the last day of its month)."""
    whole = _month(day) if day == _month_end(day) else aggregates.add_months(day, -1)
    return {f"{prefix}_um": whole, f"{prefix}_ua": aggregates.add_months(whole, 1), f"{prefix}_ub": day}


def after_params(prefix: str, day: date) -> dict:
    """Bind parameters for "everything after `day`": months from X_am on, plus days
    [X_d1, X_d2] of day's own month after it (an empty range when day ends its month)."""
    return {
        f"{prefix}_am": aggregates.add_months(day, 1),
        f"{prefix}_d1": day + ONE_DAY,
        f"{prefix}_d2": _month_end(day),
    }


def edge_params(prefix: str, start: date, end: date) -> dict:
    """range_params plus the partial edge months of [start, end] and their day bits.

    X_e1 / X_e2: the partial first / last month (None when the range starts / ends on a month
    boundary, so ranges of whole months never read the per-customer-month table); X_from /
    X_to: bits of the days in range within them; X_lw: the last whole month (X_e1 if none).
    """
    r = range_params(prefix, start, end)
    m1, m2 = r[f"{prefix}_m1"], r[f"{prefix}_m2"]
    same_month = _month(start) == _month(end)
    e1 = _month(start) if start.day != 1 or m1 > m2 else None
    e2 = _month(end) if end != _month_end(end) and not same_month else None
    from_bits = FULL_MONTH ^ ((1 << (start.day - 1)) - 1)
    to_bits = (1 << end.day) - 1
    if same_month:
        from_bits &= to_bits
    return {
        **r,
        f"{prefix}_e1": e1,
        f"{prefix}_from": from_bits,
        f"{prefix}_e2": e2,
        f"{prefix}_to": to_bits,
        f"{prefix}_lw": m2 if m1 <= m2 else e1,
    }


def window_params(prefix: str, start: date, end: date, base_month: date) -> dict:
    """Bind parameters for exact distinct counts over [start, end] (lib/core/sql/metrics.sql):
    edge_params plus X_I, the mask bits (relative to base_month) of its whole months.

    A customer is active in the range when active in one of its whole months, on a day of
    X_from in the first partial month, or on a day of X_to in the last partial month; the
    queries count each customer once (docs/metrics.md, "How the numbers are computed").
    Raises ValueError when the whole months fall outside the 63 months the masks cover.
    """
    params = edge_params(prefix, start, end)
    m1, m2 = params[f"{prefix}_m1"], params[f"{prefix}_m2"]
    inner = 0
    if m1 <= m2:
        lo, hi = _months_between(base_month, m1), _months_between(base_month, m2)
        if lo < 0 or hi >= aggregates.MASK_MONTHS:
            raise ValueError("window outside the aggregated months")
        inner = ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
    return {**params, f"{prefix}_I": inner}


def _distinct_window(prefix: str, start: date, end: date, base_month: date) -> dict:
    """window_params, or, when the masks do not reach back that far, the range's additive
    parts with empty distinct parts and X_unknown set: kpis() then reports the distinct
    figures as unknown instead of as a wrong number."""
    try:
        return window_params(prefix, start, end, base_month)
    except ValueError:
        return {
            **edge_params(prefix, start, end),
            f"{prefix}_I": 0,
            f"{prefix}_e1": None,
            f"{prefix}_e2": None,
            f"{prefix}_unknown": True,
        }


def aggregates_meta() -> dict | None:
    """agg_meta, building the aggregates first if they were never built on a warehouse that
    has customers (a warehouse loaded by a job that did not call aggregates.refresh())."""
    meta = aggregates.meta()
    if meta is None and warehouse.scalar(warehouse.raw_sql("SELECT count(*) FROM customers")):
        meta = aggregates.refresh()
    return meta


def _base_month() -> date:
    meta = aggregates_meta()
    return meta["base_month"] if meta else aggregates.base_month_for(None)


def _params(f: Filters, base: date) -> dict:
    """All bind parameters for the Overview KPIs of `f` (its period and the previous one)."""
    p = f.previous()
    churn = timedelta(days=int(settings.get("churn_window_days")) - 1)
    params = _dims(f)
    for prefix, (a, b) in {
        "w": (f.start, f.end),
        "p": (p.start, p.end),
        "cw": (f.end - churn, f.end),
        "cp": (p.end - churn, p.end),
    }.items():
        params.update(_distinct_window(prefix, a, b, base))
    # Cumulative figures: registered / first bought by the end; churn base: first bought
    # before the churn window.
    for prefix, day in {
        "wu": f.end,
        "pu": p.end,
        "cwu": f.end - churn - ONE_DAY,
        "cpu": p.end - churn - ONE_DAY,
    }.items():
        params.update(upto_params(prefix, day))
    return params


def _dims(f: Filters) -> dict:
    """The attribute filters' bind parameters; `unfiltered` lets the queries read the
    additive cubes' all-segment rollup instead of every segment."""
    return {**f.dims(), "unfiltered": not f.is_filtered()}


def _bound(params: dict) -> dict:
    return {k: v for k, v in params.items() if not k.endswith("_unknown")}


# ---------------------------------------------------------------- Overview


def _ratio(num, den) -> float | None:
    return None if not den else float(num) / float(den)


def kpis(f: Filters) -> dict[str, dict]:
    """KPI -> {value, previous, change}: change is relative for counts and money and in
    percentage points (a difference of shares) for rates; None when not computable."""
    base = _base_month()
    params = _params(f, base)
    row = warehouse.one("overview_kpis", **_bound(params))
    unknown_p = params.get("p_unknown") or params.get("cp_unknown")
    unknown_w = params.get("w_unknown") or params.get("cw_unknown")
    values = {}
    for side in ("w", "p"):
        values[side] = {
            "customers": int(row[f"customers_{side}"]),
            "new_customers": int(row[f"new_{side}"]),
            "active": int(row[f"active_{side}"]),
            "revenue": float(row[f"revenue_{side}"]),
            "aov": _ratio(row[f"revenue_{side}"], row[f"orders_{side}"]),
            "repurchase_rate": _ratio(row[f"repeaters_{side}"], row[f"purchasers_{side}"]),
            "churn_rate": _ratio(row[f"churned_{side}"], row[f"churn_base_{side}"]),
            "avg_ltv": _ratio(row[f"lifetime_revenue_{side}"], row[f"buyers_{side}"]),
        }
    distinct = ("active", "repurchase_rate", "churn_rate")
    out = {}
    for key, spec in KPIS.items():
        value = None if unknown_w and key in distinct else values["w"][key]
        previous = None if (unknown_p or unknown_w) and key in distinct else values["p"][key]
        out[key] = {"value": value, "previous": previous, "change": _change(spec["kind"], value, previous)}
    return out


def _change(kind: str, value, previous) -> float | None:
    if value is None or previous is None:
        return None
    if kind == "rate":
        return value - previous
    return None if previous == 0 else value / previous - 1


def kpi_details(f: Filters) -> dict:
    """The raw counts behind kpis() (numerators and denominators), for tests and exports."""
    base = _base_month()
    params = _params(f, base)
    return warehouse.one("overview_kpis", **_bound(params))


def _window_only(f: Filters) -> dict:
    """Parameters of the single-window Overview queries (they need no month masks)."""
    aggregates_meta()  # builds the aggregates on first use
    return {**_dims(f), **edge_params("w", f.start, f.end), **upto_params("wu", f.end), **after_params("wa", f.end)}


def monthly_trends(f: Filters) -> pd.DataFrame:
    """Per month of the window (clipped to it): new customers, active customers, revenue, orders."""
    frame = warehouse.read("overview_monthly", **_window_only(f))
    return frame.astype(
        {"new_customers": "int64", "active_customers": "int64", "revenue": "float64", "orders": "int64"}
    )


def breakdowns(f: Filters) -> pd.DataFrame:
    """dimension, value, customers (at the end), new_customers and revenue (in the window)."""
    frame = warehouse.read("overview_breakdowns", **_window_only(f))
    return frame.astype({"customers": "int64", "new_customers": "int64", "revenue": "float64"})


def lifecycle_funnel(f: Filters) -> pd.DataFrame:
    """Stage, customers now in it, customers who reached it, conversion from the stage before.

    Reached: prospect = everyone; intent = every stage after prospect; customer = customer,
    repeat and churned; repeat = repeat plus churned customers who had bought twice; churned
    is shown with its share of everyone who ever bought.
    """
    frame = warehouse.read("overview_lifecycle", **_window_only(f))
    now = {stage: 0 for stage in STAGES}
    churned_repeaters = 0
    for r in frame.itertuples():
        if r.stage in now:
            now[r.stage] = int(r.customers)
        if r.stage == "churned":
            churned_repeaters = int(r.repeat_buyers)
    total = int(frame["customers"].sum()) if len(frame) else 0
    reached = {
        "prospect": total,
        "intent": now["intent"] + now["customer"] + now["repeat"] + now["churned"],
        "customer": now["customer"] + now["repeat"] + now["churned"],
        "repeat": now["repeat"] + churned_repeaters,
        "churned": now["churned"],
    }
    rows, before = [], None
    for stage in STAGES:
        base = reached["customer"] if stage == "churned" else before
        rows.append(
            {
                "stage": stage,
                "customers": now[stage],
                "reached": reached[stage],
                "conversion": _ratio(reached[stage], base) if base is not None else None,
            }
        )
        before = reached[stage]
    return pd.DataFrame(rows)


def cohort_retention(f: Filters) -> pd.DataFrame:
    """cohort_month, months_since, customers, retention (share of the cohort's size)."""
    frame = warehouse.read("overview_cohorts", **_window_only(f))
    if frame.empty:
        return frame.assign(retention=pd.Series(dtype="float64"))
    frame["customers"] = frame["customers"].astype("int64")
    size = frame[frame["months_since"] == 0].set_index("cohort_month")["customers"]
    frame["retention"] = frame["customers"] / frame["cohort_month"].map(size)
    return frame


def overview(f: Filters) -> dict:
    """Every figure of the Overview page: kpis, monthly, breakdowns, funnel, cohorts.

    Read in one snapshot: the figures agree with each other even while a load commits, and on
    a lake the catalog is asked once per table instead of once per query."""
    aggregates_meta()  # a first build must commit before the snapshot starts
    with warehouse.snapshot():
        return {
            "kpis": kpis(f),
            "monthly": monthly_trends(f),
            "breakdowns": breakdowns(f),
            "funnel": lifecycle_funnel(f),
            "cohorts": cohort_retention(f),
        }


def dimension_values() -> dict[str, list[str]]:
    """Filter options per dimension, most customers first ('' = unknown)."""
    _base_month()
    out: dict[str, list[str]] = {dim: [] for dim in ("channel", "province", "customer_type", "lifecycle_stage")}
    for row in warehouse.records("overview_dimension_values"):  # already in display order
        out[row["dimension"]].append(row["value"])
    return out


def data_range() -> tuple[date, date] | None:
    """First and last day with any data, as of the last aggregate refresh."""
    meta = aggregates.meta()
    if not meta or meta["first_day"] is None:
        return None
    return meta["first_day"], meta["last_day"]


def oldest_comparable_start() -> date:
    """Windows starting before this day have no previous-period comparison for distinct counts."""
    return _base_month()


# ---------------------------------------------------------------- landing page


def home_kpis(as_of: date | None = None) -> dict:
    """Headline numbers for the landing page: customers, new this month, active in the last
    `active_window_days` days, net revenue of the last 365 days (all up to as_of)."""
    as_of = as_of or settings.as_of()
    active_days = int(settings.get("active_window_days"))
    params = {
        **upto_params("hu", as_of),
        **range_params("hm", as_of.replace(day=1), as_of),
        **range_params("hy", as_of - timedelta(days=364), as_of),
        **_distinct_window("ha", as_of - timedelta(days=active_days - 1), as_of, _base_month()),
    }
    row = warehouse.one("overview_home", **_bound(params))
    return {
        "customers": int(row["customers"]),
        "new_this_month": int(row["new_this_month"]),
        "active_customers": None if params.get("ha_unknown") else int(row["active_customers"]),
        "revenue_12m": float(row["revenue_12m"]),
    }
