"""Customer metrics. One function per question, computed in DuckDB SQL; pages never recompute.

Every dashboard number is defined once, here and in docs/metrics.md, and the help text the UI
shows comes from `definition()`. The Overview reads the pre-aggregated tables of
lib/aggregates.py (rebuilt by `aggregates.refresh()` after each load); how their parts add up
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

from lib import aggregates, settings, warehouse
from lib.filters import Filters
from lib.i18n import t

# Metric key -> whether a higher value is good (KPI delta colours) and how it is shown.
KPIS: dict[str, dict] = {
    "customers":       {"kind": "count", "higher_is_better": True},
    "new_customers":   {"kind": "count", "higher_is_better": True},
    "active":          {"kind": "count", "higher_is_better": True},
    "revenue":         {"kind": "money", "higher_is_better": True},
    "aov":             {"kind": "money", "higher_is_better": True},
    "repurchase_rate": {"kind": "rate", "higher_is_better": True},
    "churn_rate":      {"kind": "rate", "higher_is_better": False},
    "avg_ltv":         {"kind": "money", "higher_is_better": True},
}
STAGES = ("prospect", "intent", "customer", "repeat", "churned")
DEFINED = tuple(KPIS) + ("lifecycle", "cohort", "trends")


def definition(key: str) -> str:
    """The exact definition of a metric in the current language (help text, docs)."""
    return t(f"dash.def.{key}", active_days=settings.get("active_window_days"),
             churn_days=settings.get("churn_window_days"))


# ---------------------------------------------------------------- window arithmetic

def _month(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return aggregates.add_months(day, 1) - timedelta(days=1)


def _months_between(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


FULL_MONTH = (1 << 31) - 1


def window_params(prefix: str, start: date, end: date, base_month: date) -> dict:
    """Bind parameters describing [start, end] for the queries in lib/sql/metrics.sql.

    The window splits into its first month from `start`, the whole months strictly between, and
    its last month up to `end`. Raises ValueError when the months strictly between fall outside
    the 63 months the aggregate masks cover.
    """
    ma, mb = _month(start), _month(end)
    first_inner = _months_between(base_month, ma) + 1
    last_inner = _months_between(base_month, mb) - 1
    inner = 0
    if last_inner >= first_inner:
        if first_inner < 0 or last_inner >= aggregates.MASK_MONTHS:
            raise ValueError("window outside the aggregated months")
        inner = ((1 << (last_inner + 1)) - 1) ^ ((1 << first_inner) - 1)
    from_bits = FULL_MONTH ^ ((1 << (start.day - 1)) - 1)
    to_bits = (1 << end.day) - 1
    same_month = ma == mb
    if same_month:
        from_bits &= to_bits
    e1 = min(_month_end(start), end)
    e2 = end + timedelta(days=1) if same_month else mb
    return {f"{prefix}_a": start, f"{prefix}_b": end, f"{prefix}_ma": ma, f"{prefix}_mb": mb,
            f"{prefix}_I": inner, f"{prefix}_from": from_bits, f"{prefix}_to": to_bits,
            f"{prefix}_e1": e1, f"{prefix}_e2": e2}


def aggregates_meta() -> dict | None:
    """agg_meta, building the aggregates first if they were never built on a warehouse that
    has customers (a warehouse loaded by a job that did not call aggregates.refresh())."""
    meta = aggregates.meta()
    if meta is None and warehouse.scalar("SELECT count(*) FROM customers"):
        meta = aggregates.refresh()
    return meta


def _base_month() -> date:
    meta = aggregates_meta()
    return meta["base_month"] if meta else aggregates.base_month_for(None)


def _covered(start: date, base: date) -> bool:
    return _months_between(base, _month(start)) >= -1


def _params(f: Filters, base: date) -> dict:
    """All bind parameters for the Overview queries of `f` (its period and the previous one)."""
    p = f.previous()
    churn = timedelta(days=int(settings.get("churn_window_days")) - 1)
    params = dict(f.dims())
    for prefix, (a, b) in {"w": (f.start, f.end), "p": (p.start, p.end),
                           "cw": (f.end - churn, f.end), "cp": (p.end - churn, p.end)}.items():
        try:
            params.update(window_params(prefix, a, b, base))
        except ValueError:
            # Older than the masks: answer with an empty window so the query still runs;
            # kpis() reports the affected comparison as unknown instead of a wrong number.
            params.update(window_params(prefix, base, base, base))
            params[f"{prefix}_unknown"] = True
    return params


# ---------------------------------------------------------------- Overview

def _ratio(num, den) -> float | None:
    return None if not den else float(num) / float(den)


def kpis(f: Filters) -> dict[str, dict]:
    """KPI -> {value, previous, change}: change is relative for counts and money and in
    percentage points (a difference of shares) for rates; None when not computable."""
    base = _base_month()
    params = _params(f, base)
    row = warehouse.one("overview_kpis", **{k: v for k, v in params.items() if not k.endswith("_unknown")})
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
    return warehouse.one("overview_kpis", **{k: v for k, v in params.items() if not k.endswith("_unknown")})


def _window_only(f: Filters) -> dict:
    base = _base_month()
    try:
        window = window_params("w", f.start, f.end, base)
    except ValueError:
        window = window_params("w", max(f.start, base), max(f.end, base), base)
    return {**f.dims(), **window}


def monthly_trends(f: Filters) -> pd.DataFrame:
    """Per month of the window (clipped to it): new customers, active customers, revenue, orders."""
    frame = warehouse.read("overview_monthly", **_window_only(f))
    return frame.astype({"new_customers": "int64", "active_customers": "int64",
                         "revenue": "float64", "orders": "int64"})


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
        rows.append({"stage": stage, "customers": now[stage], "reached": reached[stage],
                     "conversion": _ratio(reached[stage], base) if base is not None else None})
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


def dimension_values() -> dict[str, list[str]]:
    """Filter options per dimension, most customers first ('' = unknown)."""
    _base_month()
    frame = warehouse.read("overview_dimension_values")
    return {dim: frame.loc[frame["dimension"] == dim, "value"].tolist()
            for dim in ("channel", "province", "customer_type", "lifecycle_stage")}


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
    month = kpis(Filters(as_of.replace(day=1), as_of))
    active = kpis(Filters(as_of - timedelta(days=active_days - 1), as_of))
    year = kpis(Filters(as_of - timedelta(days=364), as_of))
    return {"customers": month["customers"]["value"],
            "new_this_month": month["new_customers"]["value"],
            "active_customers": active["active"]["value"],
            "revenue_12m": year["revenue"]["value"]}
