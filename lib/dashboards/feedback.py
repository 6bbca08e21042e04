"""NPS and CSAT on the Overview: computed in DuckDB SQL over the feedback table, filtered like
every other Overview figure (the sidebar's channel, province, customer type and lifecycle
stage select segments of agg_segs; agg_customer maps each live customer to its segment).

Definitions (docs/metrics.md, "Feedback"), over the responses within a period [start, end]:

* each customer counts once per scale: their **latest** response in the period (a customer
  who answered five surveys does not outvote five customers who answered one);
* NPS = % promoters (9-10) - % detractors (0-6) of the customers with an NPS response, a
  number from -100 to +100;
* CSAT = share of the customers with a CSAT response whose latest score is 4 or 5 (of 1-5);
* the response counts (customers counted) are shown beside every score; no score without
  responses.

The monthly trend applies the same rule per calendar month (latest response per customer,
scale and month). Only live customers count (not merged into another record, not deleted),
as of the last aggregate refresh.
"""

from __future__ import annotations

import pandas as pd

from lib.core import warehouse
from lib.dashboards import metrics
from lib.dashboards.filters import Filters


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """Net promoter score, -100..100 (None without responses)."""
    if not responses:
        return None
    return 100.0 * (promoters - detractors) / responses


def csat(satisfied: int, responses: int) -> float | None:
    """Share (0..1) of CSAT responses scoring 4-5 (None without responses)."""
    return None if not responses else satisfied / responses


def _params(start, end, f: Filters) -> dict:
    return {**f.dims(), "w_a": start, "w_b": end}


def _scores(start, end, f: Filters) -> dict:
    row = warehouse.one("fb_overview_scores", **_params(start, end, f)) or {}
    counts = {k: int(row.get(k) or 0) for k in ("nps_responses", "promoters", "passives", "detractors")}
    counts |= {k: int(row.get(k) or 0) for k in ("csat_responses", "satisfied")}
    return {
        **counts,
        "nps": nps(counts["promoters"], counts["detractors"], counts["nps_responses"]),
        "csat": csat(counts["satisfied"], counts["csat_responses"]),
    }


def summary(f: Filters) -> dict:
    """NPS and CSAT of the filter's period and of the previous equal period:
    {"nps": {value, previous, change, responses}, "csat": {...}, "counts": {...}}; change is in
    NPS points for NPS and in percentage points (as a share difference) for CSAT."""
    metrics.aggregates_meta()  # agg_customer is built on first use
    p = f.previous()
    with warehouse.snapshot():
        now, before = _scores(f.start, f.end, f), _scores(p.start, p.end, f)
    out: dict = {"counts": now, "previous_counts": before}
    for key, responses in (("nps", "nps_responses"), ("csat", "csat_responses")):
        value, previous = now[key], before[key]
        out[key] = {
            "value": value,
            "previous": previous,
            "change": None if value is None or previous is None else value - previous,
            "responses": now[responses],
        }
    return out


def monthly(f: Filters) -> pd.DataFrame:
    """Per month of the window (clipped to it): nps, nps_responses, csat, csat_responses."""
    metrics.aggregates_meta()
    frame = warehouse.read("fb_overview_monthly", **_params(f.start, f.end, f))
    ints = ["nps_responses", "promoters", "detractors", "csat_responses", "satisfied"]
    frame = frame.astype({c: "int64" for c in ints})
    frame["nps"] = [nps(p, d, n) for p, d, n in zip(frame["promoters"], frame["detractors"], frame["nps_responses"])]
    frame["csat"] = [csat(s, n) for s, n in zip(frame["satisfied"], frame["csat_responses"])]
    frame["nps"] = frame["nps"].astype("float64")
    frame["csat"] = frame["csat"].astype("float64")
    return frame[["month", "nps", "nps_responses", "csat", "csat_responses"]]
