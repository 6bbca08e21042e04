"""Campaigns at 1M customers / 8M orders: launch (freeze members, draw the control group),
the uplift of a finished campaign (SQL aggregation over the window's orders joined to the
members), and an approved contact list.

    .venv/bin/python -m bench.campaigns [--source /tmp/bench/warehouse-1m.duckdb] [--work /tmp/campaigns/bench] [--reuse]

Copies the source warehouse first (never opens it read-write). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from datetime import timedelta

from bench import SOURCE_1M, timed, working_copy

EVERY_BUYER = {"op": "and", "conditions": [{"field": "order_count", "operator": "gte", "value": 1}]}
SMS_HIGH_VALUE = {
    "op": "and",
    "conditions": [
        {"field": "total_spend", "operator": "gte", "value": 3000},
        {"field": "consent_sms", "operator": "is_true", "value": None},
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default=SOURCE_1M)
    parser.add_argument("--work", default="/tmp/campaigns/bench")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="use the work copy left by an earlier run")
    args = parser.parse_args()
    if args.reuse and (Path(args.work) / "warehouse.duckdb").exists():
        work, path = Path(args.work), Path(args.work) / "warehouse.duckdb"
    else:
        work, path = working_copy(args.source, args.work)

    from lib.admin import setting_changes
    from lib.core import settings, warehouse
    from lib.marketing import campaigns, contact_exports, rfm
    from lib.security import auth

    warehouse.use(str(path))
    warehouse.migrate()
    user = auth.SYSTEM
    as_of = settings.as_of()
    if not warehouse.scalar("SELECT count(*) FROM customer_rfm"):
        seconds, _ = timed(lambda: rfm.refresh(user, as_of))  # the segment fields need RFM
        print(f"RFM refreshed first: {seconds:.1f} s")
    customers = warehouse.scalar("SELECT count(*) FROM customers")
    orders = warehouse.scalar("SELECT count(*) FROM orders")
    rows: list[tuple[str, str, str]] = []
    start, end, stop = as_of - timedelta(days=90), as_of - timedelta(days=84), as_of - timedelta(days=61)

    for label, definition in (("every buyer", EVERY_BUYER), ("spend >= 3000, SMS consent", SMS_HIGH_VALUE)):
        cid = campaigns.create(user, f"bench {label}", "sms", start, end, stop, definition)
        seconds, counts = timed(lambda cid=cid: campaigns.launch(user, cid, as_of))
        rows.append(
            (f"launch: {label}", f"{seconds:.2f} s", f"{counts['members']:,} members, {counts['control']:,} control")
        )
        times = []
        for _ in range(args.repeat):
            s, result = timed(lambda cid=cid: campaigns.results(cid, as_of))
            times.append(s)
        ci = result.purchase_rate
        rows.append(
            (
                f"uplift: {label}",
                f"{statistics.median(times):.3f} s (median of {args.repeat}; max {max(times):.3f})",
                f"rate {result.treatment.purchase_rate:.3%} vs {result.control.purchase_rate:.3%}, "
                f"diff {ci.difference:+.4f} [{ci.low:+.4f}, {ci.high:+.4f}], {result.verdict}",
            )
        )
        if label.startswith("spend"):
            setting_changes.put(user, "contact_export_approval", False)
            export_id = contact_exports.request(user, cid, "benchmark of the contact list")
            s, file = timed(lambda export_id=export_id: contact_exports.download(user, export_id))
            rows.append((f"contact list: {label}", f"{s:.2f} s", f"{file.rows:,} rows, {len(file.data) / 1e6:.1f} MB"))

    print(f"\n{customers:,} customers, {orders:,} orders, as of {as_of}; work dir {work}\n")
    print("| step | time | result |\n|---|---|---|")
    for step, t, what in rows:
        print(f"| {step} | {t} | {what} |")
    warehouse.dispose()


if __name__ == "__main__":
    main()
