"""Hand-written raw DuckDB SQL over customers / orders / events for the same answers as
lib/dashboards/metrics.py (no pre-aggregates). The benchmark times both and checks they agree.

Only used by bench/ and by tests that cross-check the aggregates against the source tables.
Parameters are positional-free: DuckDB named parameters ($name) bound from a dict.
"""

from __future__ import annotations

from datetime import date, timedelta

LIVE = "SELECT * FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL"
FILTER = """
  AND (len(CAST($channel AS VARCHAR[])) = 0 OR list_contains($channel, coalesce(c.channel, '')))
  AND (len(CAST($province AS VARCHAR[])) = 0 OR list_contains($province, coalesce(c.province, '')))
  AND (len(CAST($customer_type AS VARCHAR[])) = 0 OR list_contains($customer_type, c.customer_type))
  AND (len(CAST($lifecycle_stage AS VARCHAR[])) = 0 OR list_contains($lifecycle_stage, coalesce(c.lifecycle_stage, '')))
"""

KPIS = f"""
WITH c AS (SELECT customer_id, CAST(registered_at AS DATE) AS reg FROM customers c
           WHERE merged_into IS NULL AND deleted_at IS NULL {FILTER}),
kept AS (SELECT o.customer_id, CAST(o.order_time AS DATE) AS day FROM orders o JOIN c USING (customer_id)
         WHERE o.status IN ('paid', 'partially_refunded')),
firsts AS (SELECT customer_id, min(day, 2) AS f FROM kept GROUP BY 1),
ev AS (SELECT e.customer_id, CAST(e.event_time AS DATE) AS day FROM events e JOIN c USING (customer_id)),
net AS (SELECT CAST(o.order_time AS DATE) AS day, o.amount - o.refund_amount AS net,
               o.status IN ('paid', 'partially_refunded') AS kept
        FROM orders o JOIN c USING (customer_id) WHERE o.status <> 'cancelled')
SELECT
 (SELECT count(*) FROM c WHERE reg <= $w_b) AS customers_w,
 (SELECT count(*) FROM c WHERE reg <= $p_b) AS customers_p,
 (SELECT count(*) FROM c WHERE reg BETWEEN $w_a AND $w_b) AS new_w,
 (SELECT count(*) FROM c WHERE reg BETWEEN $p_a AND $p_b) AS new_p,
 (SELECT count(DISTINCT customer_id) FROM ev WHERE day BETWEEN $w_a AND $w_b) AS active_w,
 (SELECT count(DISTINCT customer_id) FROM ev WHERE day BETWEEN $p_a AND $p_b) AS active_p,
 (SELECT count(DISTINCT customer_id) FROM kept WHERE day BETWEEN $w_a AND $w_b) AS purchasers_w,
 (SELECT count(DISTINCT customer_id) FROM kept WHERE day BETWEEN $p_a AND $p_b) AS purchasers_p,
 (SELECT count(DISTINCT k.customer_id) FROM kept k JOIN firsts f USING (customer_id)
   WHERE k.day BETWEEN $w_a AND $w_b AND f.f[2] <= $w_b) AS repeaters_w,
 (SELECT count(DISTINCT k.customer_id) FROM kept k JOIN firsts f USING (customer_id)
   WHERE k.day BETWEEN $p_a AND $p_b AND f.f[2] <= $p_b) AS repeaters_p,
 (SELECT count(*) FROM firsts WHERE f[1] <= $w_b) AS buyers_w,
 (SELECT count(*) FROM firsts WHERE f[1] <= $p_b) AS buyers_p,
 (SELECT count(*) FROM firsts WHERE f[1] < $cw_a) AS churn_base_w,
 (SELECT count(*) FROM firsts f WHERE f[1] < $cw_a AND NOT EXISTS
   (SELECT 1 FROM kept k WHERE k.customer_id = f.customer_id AND k.day BETWEEN $cw_a AND $w_b)) AS churned_w,
 (SELECT count(*) FROM firsts WHERE f[1] < $cp_a) AS churn_base_p,
 (SELECT count(*) FROM firsts f WHERE f[1] < $cp_a AND NOT EXISTS
   (SELECT 1 FROM kept k WHERE k.customer_id = f.customer_id AND k.day BETWEEN $cp_a AND $p_b)) AS churned_p,
 (SELECT coalesce(sum(net), 0) FROM net WHERE day BETWEEN $w_a AND $w_b) AS revenue_w,
 (SELECT coalesce(sum(net), 0) FROM net WHERE day BETWEEN $p_a AND $p_b) AS revenue_p,
 (SELECT count(*) FROM net WHERE kept AND day BETWEEN $w_a AND $w_b) AS orders_w,
 (SELECT count(*) FROM net WHERE kept AND day BETWEEN $p_a AND $p_b) AS orders_p,
 (SELECT coalesce(sum(net), 0) FROM net WHERE day <= $w_b) AS lifetime_revenue_w,
 (SELECT coalesce(sum(net), 0) FROM net WHERE day <= $p_b) AS lifetime_revenue_p
"""

MONTHLY = f"""
WITH c AS (SELECT customer_id, CAST(registered_at AS DATE) AS reg FROM customers c
           WHERE merged_into IS NULL AND deleted_at IS NULL {FILTER}),
months AS (SELECT CAST(m AS DATE) AS month FROM range(date_trunc('month', $w_a), $w_b + 1, INTERVAL 1 MONTH) t(m))
SELECT months.month,
 (SELECT count(*) FROM c WHERE reg BETWEEN $w_a AND $w_b AND date_trunc('month', reg) = months.month) AS new_customers,
 (SELECT count(DISTINCT e.customer_id) FROM events e JOIN c USING (customer_id)
   WHERE e.event_time >= greatest(months.month, $w_a) AND e.event_time < least(months.month + INTERVAL 1 MONTH, $w_b + 1)) AS active_customers,
 (SELECT coalesce(sum(o.amount - o.refund_amount), 0) FROM orders o JOIN c USING (customer_id)
   WHERE o.status <> 'cancelled' AND o.order_time >= greatest(months.month, $w_a)
     AND o.order_time < least(months.month + INTERVAL 1 MONTH, $w_b + 1)) AS revenue
FROM months ORDER BY 1
"""

BREAKDOWN_CHANNEL = f"""
WITH c AS (SELECT customer_id, coalesce(channel, '') AS channel, CAST(registered_at AS DATE) AS reg FROM customers c
           WHERE merged_into IS NULL AND deleted_at IS NULL {FILTER})
SELECT channel, count(*) FILTER (WHERE reg <= $w_b) AS customers,
       count(*) FILTER (WHERE reg BETWEEN $w_a AND $w_b) AS new_customers,
       (SELECT coalesce(sum(o.amount - o.refund_amount), 0) FROM orders o JOIN c c2 USING (customer_id)
        WHERE c2.channel = c.channel AND o.status <> 'cancelled'
          AND o.order_time >= $w_a AND o.order_time < $w_b + 1) AS revenue
FROM c GROUP BY channel ORDER BY customers DESC
"""

LIFECYCLE = f"""
SELECT coalesce(lifecycle_stage, '') AS stage, count(*) AS customers FROM customers c
WHERE merged_into IS NULL AND deleted_at IS NULL AND CAST(registered_at AS DATE) <= $w_b {FILTER}
GROUP BY 1
"""

COHORTS = f"""
WITH c AS (SELECT customer_id FROM customers c WHERE merged_into IS NULL AND deleted_at IS NULL {FILTER}),
m AS (SELECT DISTINCT o.customer_id, date_trunc('month', o.order_time) AS month FROM orders o JOIN c USING (customer_id)
      WHERE o.status IN ('paid', 'partially_refunded')),
f AS (SELECT customer_id, min(month) AS cohort FROM m GROUP BY 1)
SELECT CAST(f.cohort AS DATE) AS cohort_month, CAST(datediff('month', f.cohort, m.month) AS INTEGER) AS months_since, count(*) AS customers
FROM m JOIN f USING (customer_id)
WHERE f.cohort BETWEEN date_trunc('month', $w_a) AND date_trunc('month', $w_b) AND m.month <= date_trunc('month', $w_b)
GROUP BY ALL ORDER BY 1, 2
"""

CUSTOMER_360 = {
    "profile": "SELECT * FROM customers WHERE customer_id = $id",
    "orders": "SELECT * FROM orders WHERE customer_id = $id ORDER BY order_time DESC",
    "events": "SELECT * FROM events WHERE customer_id = $id ORDER BY event_time DESC",
    "tags": "SELECT tag FROM tags WHERE customer_id = $id ORDER BY tag",
    "consents": "SELECT * FROM consents WHERE customer_id = $id ORDER BY recorded_at DESC",
    "history": "SELECT * FROM audit_log WHERE entity = 'customer' AND entity_id = CAST($id AS VARCHAR) ORDER BY occurred_at DESC",
}


# Customer search without the index: every live customer's name, pinyin readings and company
# scanned for the lower-cased entry, exact matches first, the first page of 25 and the count
# (the search before migration 0023).
SEARCH_SCAN = """
WITH matches AS MATERIALIZED (
    SELECT customer_id,
           lower(full_name) = $needle OR lower(company) = $needle
             OR contains('|' || name_pinyin || '|', '|' || $needle || '|') AS exact
    FROM customers
    WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
      AND (contains(lower(full_name), $needle) OR contains(name_pinyin, $needle)
           OR contains(lower(company), $needle)))
SELECT c.customer_id, c.full_name, c.company, c.mobile, c.email, c.province, c.city,
       c.customer_type, c.channel, c.lifecycle_stage, c.registered_at,
       (SELECT count(*) FROM matches) AS total
FROM customers AS c
JOIN (SELECT * FROM matches ORDER BY exact DESC, customer_id LIMIT 25) AS page USING (customer_id)
ORDER BY page.exact DESC, c.customer_id
"""


def params(start: date, end: date, churn_days: int, dims: dict | None = None) -> dict:
    n = (end - start).days + 1
    p_a, p_b = start - timedelta(days=n), start - timedelta(days=1)
    out = {
        "w_a": start,
        "w_b": end,
        "p_a": p_a,
        "p_b": p_b,
        "cw_a": end - timedelta(days=churn_days - 1),
        "cp_a": p_b - timedelta(days=churn_days - 1),
        "channel": [],
        "province": [],
        "customer_type": [],
        "lifecycle_stage": [],
    }
    out.update(dims or {})
    return out


def used(sql: str, values: dict) -> dict:
    """Only the parameters a statement mentions (DuckDB rejects unused named parameters)."""
    return {k: v for k, v in values.items() if f"${k}" in sql}
