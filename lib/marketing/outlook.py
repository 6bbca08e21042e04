"""Revenue outlook: the next three months' expected net revenue, and the same forecast made a
year earlier compared with what happened.

* Existing customers (everyone with a kept order before the origin): the latest CLV model's
  BG/NBD expected purchase days in the next t days x its Gamma-Gamma expected value per purchase
  day (lib/marketing/clv.py), summed over customers, for t = the end of each of the three months
  after the origin (the monthly figures are the differences). The origin is the model's as-of
  date: the model knows nothing after it.
* New customers (first kept order within the three months): the net revenue that customers
  acquired in a three-month window bring in within that window, measured for the twelve windows
  ending 0, 1, ..., 11 months before the origin (windows starting before the first purchase in
  the data are left out), a least-squares line through them, read at the window ending three
  months after the origin (never below zero).
* Backtest: the same forecast with the origin twelve months earlier: a BG/NBD + Gamma-Gamma fit on
  the data before that origin (a sample of at most BACKTEST_FIT_ROWS purchasers, as the CLV job
  does), the new-customer trend of the twelve windows before it, and the actual net revenue of
  the three months after it (split the same way). Error % = (forecast - actual) / actual.

Nothing is invented: with no fitted CLV model the outlook says so (fit one with
``python -m lib.cli clv score --out FILE`` or on the Churn & CLV page).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import date, datetime, timedelta

import numpy as np

from lib.core import warehouse
from lib.marketing import clv
from lib.marketing.queries import cutoff

MONTHS = 3
TREND_WINDOWS = 12
BACKTEST_FIT_ROWS = 50_000


def add_months(day: datetime | date, months: int):
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return day.replace(year=year, month=month, day=min(day.day, last))


def latest_model() -> dict | None:
    """The latest fitted CLV model (parameters as dicts), or None."""
    row = warehouse.one("outlook_latest_clv_model")
    if row is None:
        return None
    for key in ("bgnbd", "gamma_gamma"):
        if isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row


def existing_customers(bg: clv.BGNBD, gg: clv.GammaGamma, origin: date) -> list[dict]:
    """Expected net revenue of the existing customers in each of the MONTHS months after origin."""
    cut = cutoff(origin)
    with warehouse.transaction() as tx:
        frame = clv.summary(tx, cut.date())
    months, previous = [], 0.0
    value = clv.expected_value_per_purchase(gg, frame["x"], frame["m_x"]) if len(frame) else np.zeros(0)
    for k in range(1, MONTHS + 1):
        start, stop = add_months(cut, k - 1), add_months(cut, k)
        days = (stop - cut).days
        total = (
            float(np.sum(clv.expected_purchases(bg, days, frame["x"], frame["t_x"], frame["T"]) * value))
            if len(frame)
            else 0.0
        )
        months.append({"start": start.date(), "end": (stop - timedelta(days=1)).date(), "expected": total - previous})
        previous = total
    return months


def new_customer_trend(origin: date) -> dict:
    """Net revenue of the customers acquired in each three-month window before origin (in that
    window), the fitted line and its value for the window of the MONTHS months after origin."""
    cut = cutoff(origin)
    stops = [add_months(cut, -j) for j in range(TREND_WINDOWS)]
    starts = [add_months(s, -MONTHS) for s in stops]
    first = warehouse.scalar("outlook_first_purchase")
    frame = warehouse.read("outlook_new_customer_windows", starts=starts, stops=stops)
    # rows come oldest first: the window ending 11 months before origin, ..., the one ending at it
    frame["months_from_origin"] = list(range(1 - TREND_WINDOWS, 1))
    if first is not None:
        frame = frame[frame["window_start"] >= first].reset_index(drop=True)
    frame["new_customer_revenue"] = frame["new_customer_revenue"].astype(float)
    if len(frame) >= 2:
        slope, intercept = np.polyfit(frame["months_from_origin"].astype(float), frame["new_customer_revenue"], 1)
        forecast = max(0.0, float(intercept + slope * MONTHS))
    elif len(frame) == 1:
        slope, forecast = 0.0, float(frame["new_customer_revenue"].iloc[0])
    else:
        slope, forecast = 0.0, 0.0
    return {"windows": frame, "slope_per_month": float(slope), "forecast": forecast}


def forecast(bg: clv.BGNBD, gg: clv.GammaGamma, origin: date) -> dict:
    months = existing_customers(bg, gg, origin)
    trend = new_customer_trend(origin)
    existing = sum(m["expected"] for m in months)
    cut = cutoff(origin)
    return {
        "origin": origin,
        "start": cut.date(),
        "end": (add_months(cut, MONTHS) - timedelta(days=1)).date(),
        "months": months,
        "existing": existing,
        "new": trend["forecast"],
        "total": existing + trend["forecast"],
        "trend": trend,
    }


def actual(origin: date) -> dict:
    """Net revenue in the MONTHS months after origin, from existing and from new customers."""
    cut = cutoff(origin)
    row = warehouse.one("outlook_revenue_between", start=cut, stop=add_months(cut, MONTHS)) or {}
    return {k: float(row.get(k) or 0) for k in ("existing", "new", "total")}


def backtest(origin: date) -> dict:
    """The forecast made twelve months before origin, fitted only on the data before then,
    against the actual revenue of the three months after that earlier origin."""
    earlier = add_months(origin, -12)
    cut = cutoff(earlier).date()
    with warehouse.transaction() as tx:
        sample = clv._sample(int(tx.scalar("marketing_customer_count")), BACKTEST_FIT_ROWS)
        fit_frame = clv.summary(tx, cut, sample)
    if len(fit_frame) < 50 or int((fit_frame["x"] > 0).sum()) < 10:
        return {"origin": earlier, "available": False, "reason": "history"}
    bg = clv.fit_bgnbd(fit_frame["x"], fit_frame["t_x"], fit_frame["T"])
    gg = clv.fit_gamma_gamma(fit_frame["x"], fit_frame["m_x"])
    made = forecast(bg, gg, earlier)
    happened = actual(earlier)

    def error(predicted: float, real: float) -> float | None:
        return (predicted - real) / real if real else None

    return {
        "origin": earlier,
        "available": True,
        "start": made["start"],
        "end": made["end"],
        "forecast": {"existing": made["existing"], "new": made["new"], "total": made["total"]},
        "actual": happened,
        "error": {k: error(made[k], happened[k]) for k in ("existing", "new", "total")},
        "bgnbd": asdict(bg),
        "gamma_gamma": asdict(gg),
        "fitted_on": len(fit_frame),
    }


def outlook(with_backtest: bool = True) -> dict:
    """The revenue outlook from the latest CLV model; {"model": None} when none is fitted."""
    model = latest_model()
    if model is None:
        return {"model": None}
    bg, gg = clv.BGNBD(**model["bgnbd"]), clv.GammaGamma(**model["gamma_gamma"])
    origin = model["as_of"]
    result = forecast(bg, gg, origin)
    result["model"] = {"clv_model_id": int(model["clv_model_id"]), "as_of": origin, "fitted_at": model["fitted_at"]}
    result["backtest"] = backtest(origin) if with_backtest else None
    if not math.isfinite(result["total"]):
        raise ValueError("The CLV model gives no finite forecast; refit it.")
    return result
