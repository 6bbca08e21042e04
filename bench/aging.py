"""A demo warehouse as it looks after a year in use, for the page benchmarks.

The demo generator writes customers, orders, events and consents, but the tables that grow
with use start (almost) empty: open quality flags, tags and, above all, the audit log, which
gets a row for every login, view, export and change. A 360° lookup reads all three, so a
benchmark on a fresh demo flatters it (the audit-log lookup was a 32 ms full scan at 3M rows
before it had an index). `age()` brings a benchmark COPY to a year of use:

* the real quality rules (lib.stewardship.quality.run), which open flags on ~20% of 1M customers;
* tags on ~12% of customers (vip / wechat-group / trade-show), as bulk tagging would;
* AUDIT_ROWS audit rows over the year: two views and one change per three rows, on customers
  spread by a hash, in time order like the real log.

Idempotent (a warehouse that already has AUDIT_ROWS audit rows is left alone). Never run it on
a warehouse people use: the audit rows are synthetic and say so (detail.bench = true).
"""

from __future__ import annotations

import time

AUDIT_ROWS = 3_000_000


def age(location: str) -> dict:
    """Age the warehouse at `location` (already selected with warehouse.use); returns timings."""
    from lib.security import auth
    from lib.stewardship import quality
    from lib.core import warehouse

    if warehouse.scalar("SELECT count(*) FROM audit_log") >= AUDIT_ROWS:
        return {}
    out = {}
    started = time.perf_counter()
    quality.run(auth.User("bench", "Benchmark", frozenset({"steward"})))
    out["quality_run_s"] = time.perf_counter() - started
    with warehouse.transaction() as tx:
        tx.run("""
            INSERT INTO tags (customer_id, tag, created_at, created_by)
            SELECT customer_id, tag, TIMESTAMP '2026-06-01' + to_days(CAST(customer_id % 100 AS INTEGER)),
                   'marketing'
            FROM customers, (VALUES ('vip'), ('wechat-group'), ('trade-show')) AS v(tag)
            WHERE hash(customer_id, tag) % 25 = 0
            ON CONFLICT DO NOTHING""")
        tx.run(
            """
            INSERT INTO audit_log (occurred_at, username, roles, action, entity, entity_id, before,
                                   after, detail)
            SELECT TIMESTAMP '2025-11-01' + to_seconds(i * 10), 'steward', 'steward',
                   CASE WHEN i % 3 = 0 THEN 'customer.update' ELSE 'customer.view' END, 'customer',
                   CAST(1 + hash(i) % (SELECT max(customer_id) FROM customers) AS VARCHAR),
                   CASE WHEN i % 3 = 0 THEN '{"city": "上海"}' END,
                   CASE WHEN i % 3 = 0 THEN '{"city": "杭州"}' END, '{"bench": true}'
            FROM range(:n) AS r(i)""",
            n=AUDIT_ROWS,
        )
    warehouse.checkpoint()
    out["counts"] = warehouse.one(
        "SELECT (SELECT count(*) FROM tags) AS tags, "
        "(SELECT count(*) FROM quality_flags WHERE status = 'open') AS open_flags, "
        "(SELECT count(*) FROM audit_log) AS audit_rows"
    )
    return out
