"""Marketing at 1M customers / 8M orders / 20M events: RFM, lifecycle, segment counts,
reachable audiences and export, bulk tagging, churn training and scoring, CLV fit and scoring.

    .venv/bin/python -m bench.marketing [--source /tmp/bench/warehouse-1m.duckdb] [--work /tmp/marketing/bench]

Copies the source warehouse first (never opens it read-write). Prints a Markdown table and the
model figures (churn AUC vs the recency baseline, CLV backtest).
"""

from __future__ import annotations

import argparse

from bench import SOURCE_1M, timed, working_copy


AT_RISK_HIGH_VALUE = {
    "op": "and",
    "conditions": [
        {"field": "rfm_segment", "operator": "in", "value": ["At Risk", "Can't Lose Them"]},
        {"field": "total_spend", "operator": "gte", "value": 5000},
    ],
}
NESTED = {
    "op": "and",
    "conditions": [
        {"field": "province", "operator": "contains", "value": "广东"},
        {
            "op": "or",
            "conditions": [
                {"field": "churn_risk", "operator": "eq", "value": "high"},
                {"field": "last_purchase", "operator": "not_within_days", "value": 180},
                {"field": "tags", "operator": "has_any", "value": ["bench-vip"]},
            ],
        },
        {"field": "consent_sms", "operator": "is_true", "value": None},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=SOURCE_1M)
    parser.add_argument("--work", default="/tmp/marketing/bench")
    parser.add_argument("--horizon-days", type=int, default=90)
    args = parser.parse_args()
    work, path = working_copy(args.source, args.work)

    from lib.marketing import audience, churn, clv, lifecycle, rfm, segments, tags
    from lib.security import auth
    from lib.core import settings, warehouse

    warehouse.use(str(path))
    warehouse.migrate()
    user = auth.SYSTEM
    as_of = settings.as_of()
    customers = warehouse.scalar("SELECT count(*) FROM customers")
    orders = warehouse.scalar("SELECT count(*) FROM orders")
    events = warehouse.scalar("SELECT count(*) FROM events")
    rows: list[tuple[str, str, str]] = []

    def add(name: str, seconds: float, note: str = "") -> None:
        rows.append((name, f"{seconds:.2f}", note))
        print(f"{name}: {seconds:.2f} s {note}", flush=True)

    s, summary = timed(lambda: rfm.summary(as_of))
    add(
        "RFM summary as of a date (NTILE quintiles + 11 segments, in SQL)",
        s,
        f"{int(summary['customers'].sum()):,} purchasers",
    )
    s, n = timed(lambda: rfm.refresh(user, as_of))
    add("RFM snapshot refresh (customer_rfm)", s, f"{n:,} rows")
    s, _ = timed(lambda: (rfm.summary(as_of), rfm.score_grid(as_of)))
    add("RFM summary + R x F grid from the snapshot (page default)", s)
    s, counts = timed(lambda: lifecycle.counts_as_of(as_of))
    add("Lifecycle stage counts as of a date", s, ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    s, detail = timed(lambda: lifecycle.recompute(user, as_of))
    add("Lifecycle recompute (set-based UPDATE)", s, f"{detail['changed']:,} changed")
    s, detail = timed(lambda: lifecycle.recompute(user, as_of))
    add("Lifecycle recompute again (nothing to change)", s, f"{detail['changed']:,} changed")

    s, m = timed(lambda: churn.train(user, as_of, args.horizon_days))
    add(
        f"Churn model training ({args.horizon_days}-day label, sample)",
        s,
        f"{m['n_train']:,} train / {m['n_holdout']:,} holdout rows; fit {m['seconds']['fit']} s; "
        f"AUC {m['auc']:.3f} vs recency {m['baseline_auc']:.3f}",
    )
    s, d = timed(lambda: churn.score(user, as_of, args.horizon_days, model_id=m["model_id"]))
    add(
        "Churn scoring, every purchaser, with reasons",
        s,
        f"{d['scored']:,} scored in {d['batches']} batches (features {d['seconds']['features']} s, "
        f"predict+reasons {d['seconds']['predict']} s, write {d['seconds']['write']} s)",
    )
    s, c = timed(lambda: clv.fit_and_score(user, as_of, 180))
    bt = c["backtest"]
    add(
        "CLV backtest + BG/NBD/Gamma-Gamma fit + scoring",
        s,
        f"{c['scored']:,} scored; fit on {c['fitted_on']:,}; backtest predicted "
        f"{bt['predicted_purchases']:,.0f} vs actual {bt['actual_purchases']:,.0f} purchase days",
    )

    for label, definition in (("at-risk high-value", AT_RISK_HIGH_VALUE), ("nested AND/OR + tags + consent", NESTED)):
        segments.stats(definition, as_of)  # warm
        s, st = timed(lambda: segments.stats(definition, as_of))
        add(f"Segment live count + revenue share ({label})", s, f"{st['members']:,} members")
    s, reach = timed(lambda: audience.reachable(AT_RISK_HIGH_VALUE, as_of))
    add(
        "Reachable audience per channel (at-risk high-value)",
        s,
        ", ".join(f"{r.channel} {r.reachable:,}" for r in reach.itertuples()),
    )
    s, sample = timed(lambda: segments.sample(user, AT_RISK_HIGH_VALUE, 10, as_of))
    add("Masked sample of 10 members", s)
    s, o = timed(lambda: segments.overlap(AT_RISK_HIGH_VALUE, NESTED, as_of))
    add("Overlap of two segments", s, f"{o['both_ab']:,} in both")
    everyone = {"op": "and", "conditions": [{"field": "consent_sms", "operator": "is_true", "value": None}]}
    s, e = timed(lambda: audience.export(user, everyone, "sms", "csv", as_of))
    add(
        "CSV export of every SMS-reachable customer (masked, audited)",
        s,
        f"{e.rows:,} rows, {len(e.data) / 1e6:.0f} MB",
    )
    s, e = timed(lambda: audience.export(user, AT_RISK_HIGH_VALUE, "email", "xlsx", as_of))
    add("Excel export (at-risk high-value, email)", s, f"{e.rows:,} rows")
    s, n = timed(lambda: tags.bulk_add(user, AT_RISK_HIGH_VALUE, "bench-vip", as_of))
    add("Bulk tag a segment", s, f"{n:,} customers")
    s, n = timed(lambda: tags.bulk_remove(user, AT_RISK_HIGH_VALUE, "bench-vip", as_of))
    add("Bulk untag a segment", s, f"{n:,} customers")

    print()
    print(f"1M warehouse: {customers:,} customers, {orders:,} orders, {events:,} events; data as of {as_of}")
    print("| Operation | Seconds | Notes |")
    print("|---|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds} | {note} |")
    warehouse.dispose()


if __name__ == "__main__":
    main()
