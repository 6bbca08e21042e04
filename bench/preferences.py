"""Category preferences at 1M customers / 8M orders / 20M events: the refresh, the segment
builder's live count with preference and birthday fields, the next-category evaluation, the
category analytics page's queries and the revenue outlook with its backtest.

    .venv/bin/python -m bench.preferences [--source /tmp/bench/warehouse-1m.duckdb] [--work /tmp/preferences/bench]

Copies the source warehouse first (never opens it read-write). Prints a Markdown table, the
hit rates and the backtest error, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os

from bench import SOURCE_1M, timed, working_copy

BROWSED_LAPSED_HIGH_VALUE = {
    "op": "and",
    "conditions": [
        {"field": "browsed_not_bought", "operator": "has_any", "value": ["electronics", "beauty"]},
        {"field": "price_level", "operator": "eq", "value": "high"},
        {"field": "last_purchase", "operator": "not_within_days", "value": 180},
    ],
}
FAVOURITE_AND_BOUGHT = {
    "op": "or",
    "conditions": [
        {"field": "favourite_category", "operator": "in", "value": ["baby", "beauty"]},
        {"field": "categories_bought", "operator": "has_all", "value": ["apparel", "sports"]},
    ],
}
BIRTHDAY_WEEK = {
    "op": "and",
    "conditions": [
        {"field": "days_to_birthday", "operator": "lte", "value": 7},
        {"field": "consent_sms", "operator": "is_true", "value": None},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=SOURCE_1M)
    parser.add_argument("--work", default="/tmp/preferences/bench")
    args = parser.parse_args()
    work, path = working_copy(args.source, args.work)

    from lib.core import settings, warehouse
    from lib.dashboards import categories, filters
    from lib.marketing import outlook, preferences, recommend, segments

    warehouse.use(str(path))
    warehouse.migrate()
    as_of = settings.as_of()
    rows: list[tuple[str, str, str]] = []

    def add(name: str, seconds: float, note: str = "") -> None:
        rows.append((name, f"{seconds:.2f}", note))
        print(f"{name}: {seconds:.2f} s {note}", flush=True)

    print("load average before:", os.getloadavg(), flush=True)
    s, d = timed(lambda: preferences.refresh(as_of))
    add("Preferences refresh (similarity + customer_preferences, in SQL)", s, f"{d['customers']:,} customers")
    for name, definition in (
        ("browsed-not-bought + price level + lapsed", BROWSED_LAPSED_HIGH_VALUE),
        ("favourite category OR bought all of", FAVOURITE_AND_BOUGHT),
        ("birthday within 7 days + SMS consent", BIRTHDAY_WEEK),
    ):
        s, st = timed(lambda: segments.stats(definition, as_of))
        add(f"Segment live count: {name}", s, f"{st['members']:,} members")
    s, r = timed(lambda: recommend.evaluate(as_of))
    add(
        "Next-category evaluation (time split, in SQL)",
        s,
        f"hit@1 {r['model_hit_1']:.3f} vs {r['baseline_hit_1']:.3f}, hit@3 {r['model_hit_3']:.3f} vs "
        f"{r['baseline_hit_3']:.3f} ({r['customers']:,} customers)",
    )
    f = filters.default(as_of)
    s, _ = timed(lambda: (categories.summary(f), categories.by_channel(f), categories.monthly(f)))
    add("Categories page: summary + by channel + monthly (12 months)", s)
    s, o = timed(lambda: outlook.outlook())
    if o["model"] is None:
        add("Revenue outlook", s, "no CLV model in this warehouse")
    else:
        bt = o["backtest"]
        err = bt["error"]["total"] if bt and bt["available"] else None
        add(
            "Revenue outlook: forecast + one-year-earlier backtest (a fit)",
            s,
            f"{o['total']:,.0f} CNY; backtest error {'n/a' if err is None else f'{100 * err:+.1f} %'}",
        )
    print("load average after:", os.getloadavg(), flush=True)
    print()
    print("| step | seconds | note |")
    print("|---|---:|---|")
    for name, sec, note in rows:
        print(f"| {name} | {sec} | {note} |")
    warehouse.dispose()


if __name__ == "__main__":
    main()
