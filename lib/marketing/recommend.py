""" "Next category to offer": item-to-item co-purchase similarity over categories, in SQL.

Model (lib/core/sql/marketing_preferences.sql, ``category_similarity_rows`` and
``preferences_insert``): over the binary matrix customers x categories bought (kept orders of
live customers before the cutoff), the similarity of two categories is the cosine
|buyers of both| / sqrt(|buyers of a| x |buyers of b|) (1 for a category with itself). A
customer's score for category j is the sum over the categories i they bought of
(their kept orders in i) x similarity(i, j); the category with the highest score is the one to
offer (ties: by name). Only an 8 x 8 (categories x categories) table and per-customer category
counts are ever built - all in DuckDB, nothing loaded into pandas.

Evaluation (``evaluate``): a time split. The model and a most-popular baseline (the categories
with the most buyers, the same list for everyone) see only orders before the cut date
(as_of + 1 - horizon); the truth is the category of each such customer's first kept order in the
``horizon_days`` after the cut. hit@k = share of those customers whose true next category is
among the first k offered. Because the score includes the categories a customer already buys,
the model mostly predicts repeat purchases in the favourite category; on the demo data the
"first new category" is no better predicted than by popularity (docs/metrics.md).
"""

from __future__ import annotations

from datetime import date, timedelta

from lib.core import settings, warehouse
from lib.marketing.queries import cutoff

DEFAULT_HORIZON_DAYS = 182


def evaluate(as_of: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS) -> dict:
    """Hit rate @1 and @3 of the model and of the most-popular baseline on a time split."""
    if not 7 <= int(horizon_days) <= 1825:
        raise ValueError("horizon_days must be between 7 and 1825")
    as_of = as_of or settings.as_of()
    cut = cutoff(as_of) - timedelta(days=int(horizon_days))
    row = warehouse.one("recommend_evaluate", cutoff=cut, horizon_days=int(horizon_days)) or {}
    n = int(row.get("customers") or 0)

    def rate(key: str) -> float | None:
        return int(row[key] or 0) / n if n else None

    return {
        "as_of": as_of,
        "cut": cut.date(),
        "horizon_days": int(horizon_days),
        "customers": n,
        "categories": int(row.get("categories") or 0),
        "model_hit_1": rate("model_hits_1"),
        "model_hit_3": rate("model_hits_3"),
        "baseline_hit_1": rate("baseline_hits_1"),
        "baseline_hit_3": rate("baseline_hits_3"),
    }
