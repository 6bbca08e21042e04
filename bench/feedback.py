"""Feedback at 1M customers: NPS / CSAT summary and monthly trend (unfiltered and filtered), the
segment fields, the detractor worklist and one customer's responses, each timed warm (median
of 5 repeats after one run).

    .venv/bin/python -m bench.feedback /tmp/feedback-bench/warehouse.duckdb

Builds (once, when the file does not exist) a synthetic warehouse of 1,000,000 customers and
600,000 responses (2/3 NPS, 1/3 CSAT, spread over five years, in customer order) with
aggregates refreshed; it holds no personal data, so throwaway keys are set when none are given.
Figures are written up in docs/benchmarks.md ("## Feedback").
"""

import os
import statistics
import sys
import time

os.environ.setdefault("C360_DEMO", "1")
os.environ.setdefault("C360_COOKIE_KEY", "test-cookie-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("C360_FIELD_KEYS", "T8R4XUbzGv3rJ2a0G2f6vWc0m9V0G2wq1pQW0m3X6yI=")
os.environ.setdefault("C360_HASH_KEY", "test-hash-key-0123456789-abcdefghijklmnopqrs")
from datetime import date  # noqa: E402 - after the keys

from lib.core import warehouse  # noqa: E402
from lib.dashboards import aggregates  # noqa: E402
from lib.dashboards import feedback as fm  # noqa: E402
from lib.dashboards.filters import Filters  # noqa: E402
from lib.marketing import segments  # noqa: E402
from lib.security import auth  # noqa: E402
from lib.stewardship import feedback as fb  # noqa: E402

path = sys.argv[1]
fresh = not os.path.exists(path)
warehouse.use(path)
if fresh:
    warehouse.migrate()
    t = time.perf_counter()
    with warehouse.transaction() as tx:
        tx.run(
            warehouse.raw_sql("""
INSERT INTO customers (customer_id, source, source_record_id, full_name, gender, country, province, city,
  customer_type, channel, registered_at, updated_at, lifecycle_stage, version)
SELECT i, 'crm', 'C' || i, '张三', 'M', 'CN',
  ['广东省','浙江省','江苏省','北京市','上海市','四川省'][1 + (hash(i) % 6)::INT], '深圳市',
  CASE WHEN hash(i * 7) % 10 = 0 THEN 'B2B' ELSE 'B2C' END,
  ['web','app','wechat','store','partner'][1 + (hash(i * 3) % 5)::INT],
  TIMESTAMP '2021-11-01' + to_seconds(CAST(hash(i * 11) % (5 * 365 * 86400) AS BIGINT)),
  TIMESTAMP '2026-01-01',
  ['prospect','intent','customer','repeat','churned'][1 + (hash(i * 13) % 5)::INT], 1
FROM range(1, 1000001) t(i)""")
        )
        tx.run(
            warehouse.raw_sql("""
INSERT INTO feedback (customer_id, survey, scale, score, comment, responded_at, channel, source, source_record_id, recorded_by)
SELECT c, CASE WHEN s = 'nps' THEN 'post_purchase_nps' ELSE 'service_csat' END, s,
  CASE WHEN s = 'nps' THEN (hash(j * 5) % 11)::INT ELSE 1 + (hash(j * 5) % 5)::INT END,
  CASE WHEN hash(j) % 3 = 0 THEN '物流太慢' END,
  TIMESTAMP '2021-11-01' + to_seconds(CAST(hash(j * 17) % (5 * 365 * 86400) AS BIGINT)), 'sms', 'survey_tool', 'FB' || j, 'system'
FROM (SELECT j, 1 + (hash(j * 19) % 1000000)::BIGINT AS c, CASE WHEN j % 3 = 0 THEN 'csat' ELSE 'nps' END AS s
      FROM range(1, 600001) t(j))
ORDER BY c""")
        )
    print("load", round(time.perf_counter() - t, 1), "s")

    t = time.perf_counter()
    aggregates.refresh()
    print("aggregates.refresh", round(time.perf_counter() - t, 1), "s")
    warehouse.checkpoint()


def timeit(name, fn, n=5):
    fn()
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    print(
        f"{name}: median {1000 * statistics.median(xs):.0f} ms (min {1000 * min(xs):.0f}, max {1000 * max(xs):.0f})",
        flush=True,
    )


f = Filters(date(2025, 11, 1), date(2026, 10, 31))
ff = Filters(date(2025, 11, 1), date(2026, 10, 31), channel=("wechat",), province=("广东省",))
print(warehouse.scalar(warehouse.raw_sql("SELECT count(*) FROM feedback")), "responses")
timeit("summary (window + previous), unfiltered", lambda: fm.summary(f))
timeit("summary, channel+province filter", lambda: fm.summary(ff))
timeit("monthly trend, unfiltered", lambda: fm.monthly(f))
timeit("monthly trend, filtered", lambda: fm.monthly(ff))
print(fm.summary(f)["nps"])
d = {"op": "and", "conditions": [{"field": "nps_category", "operator": "eq", "value": "detractor"}]}
timeit("segment stats nps_category = detractor", lambda: segments.stats(d, date(2026, 11, 1)), 3)
timeit("segment stats (no condition)", lambda: segments.stats({"op": "and", "conditions": []}, date(2026, 11, 1)), 3)
s = auth.User("steward", "s", frozenset({"steward"}))
timeit("worklist (500 rows)", lambda: fb.worklist(s), 3)
timeit("customer_feedback (360)", lambda: fb.customer_feedback(s, 4242), 5)
warehouse.dispose()
