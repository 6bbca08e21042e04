-- Marketing: RFM and lifecycle stages, both computed AS OF a date from data before it.
-- A purchase is an order with status paid or partially_refunded (cancelled and fully refunded
-- orders are not purchases); its value is amount - refund_amount. "Before the date" means
-- strictly before the cutoff = as_of + 1 day (the whole as_of day counts).
-- Live customers: not merged, not deleted, not erased.

-- name: rfm_scores
-- One row per live customer with a purchase before the cutoff. Quintiles with NTILE(5) over a
-- deterministic order; equal values then share the lowest quintile their group spans (so two
-- customers with the same frequency never get different F scores). Segment from the (R, FM)
-- grid passed in as three parallel lists, FM = round-half-up((F + M) / 2).
WITH grid AS (
    SELECT unnest(CAST(:grid_r AS INTEGER[])) AS r,
           unnest(CAST(:grid_fm AS INTEGER[])) AS fm,
           unnest(CAST(:grid_segment AS VARCHAR[])) AS segment
),
purchases AS (
    SELECT o.customer_id, max(o.order_time) AS last_purchase, count(*) AS frequency,
           sum(o.amount - o.refund_amount) AS monetary
    FROM orders o
    JOIN customers c USING (customer_id)
    WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
      AND o.status IN ('paid', 'partially_refunded')
      AND o.order_time < CAST(:as_of AS DATE) + INTERVAL 1 DAY
    GROUP BY o.customer_id
),
measured AS (
    SELECT *, date_diff('day', CAST(last_purchase AS DATE), CAST(:as_of AS DATE)) AS recency_days
    FROM purchases
),
tiled AS (
    SELECT *,
           ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_tile,
           ntile(5) OVER (ORDER BY frequency, customer_id) AS f_tile,
           ntile(5) OVER (ORDER BY monetary, customer_id) AS m_tile
    FROM measured
),
scored AS (
    SELECT customer_id, recency_days, frequency, monetary, last_purchase,
           min(r_tile) OVER (PARTITION BY recency_days) AS r_score,
           min(f_tile) OVER (PARTITION BY frequency) AS f_score,
           min(m_tile) OVER (PARTITION BY monetary) AS m_score
    FROM tiled
)
SELECT s.customer_id, CAST(:as_of AS DATE) AS as_of, CAST(s.recency_days AS INTEGER) AS recency_days,
       CAST(s.frequency AS INTEGER) AS frequency, CAST(s.monetary AS DECIMAL(14, 2)) AS monetary,
       s.last_purchase, CAST(s.r_score AS TINYINT) AS r_score, CAST(s.f_score AS TINYINT) AS f_score,
       CAST(s.m_score AS TINYINT) AS m_score, g.segment AS rfm_segment
FROM scored s
JOIN grid g ON g.r = s.r_score AND g.fm = (s.f_score + s.m_score + 1) // 2

-- name: rfm_summary
-- Size, revenue, revenue share and averages per segment (lib/rfm.py splices rfm_scores in).
WITH s AS ({rfm_scores})
SELECT rfm_segment AS segment,
       count(*) AS customers,
       count(*) / sum(count(*)) OVER () AS customer_share,
       sum(monetary) AS revenue,
       sum(monetary) / nullif(sum(sum(monetary)) OVER (), 0) AS revenue_share,
       avg(monetary) AS avg_value,
       avg(frequency) AS avg_frequency,
       avg(recency_days) AS avg_recency_days
FROM s
GROUP BY rfm_segment
ORDER BY revenue DESC

-- name: rfm_score_grid
-- Customers per (R, F) cell, for a heat map.
WITH s AS ({rfm_scores})
SELECT r_score, f_score, count(*) AS customers, avg(monetary) AS avg_value
FROM s GROUP BY r_score, f_score ORDER BY r_score, f_score

-- name: rfm_refresh_delete
DELETE FROM customer_rfm

-- name: rfm_refresh_insert
INSERT INTO customer_rfm SELECT * FROM ({rfm_scores})

-- name: rfm_snapshot_info
SELECT max(as_of) AS as_of, count(*) AS customers FROM customer_rfm

-- name: lifecycle_stages
-- Stage per live customer registered before the cutoff; first matching rule wins:
-- churned (has purchases, none within churn_days), repeat (>= repeat_orders purchases),
-- customer (one purchase), intent (no purchase; add_to_cart or consult within intent_days),
-- prospect (anything else). derived_reason: complaint / return when such an event came within
-- reason_days before the last purchase or after it.
WITH cut AS (SELECT CAST(:as_of AS DATE) + INTERVAL 1 DAY AS cutoff),
p AS (
    SELECT customer_id, count(*) AS purchases, max(order_time) AS last_purchase
    FROM orders
    WHERE status IN ('paid', 'partially_refunded') AND order_time < (SELECT cutoff FROM cut)
    GROUP BY customer_id
),
intent AS (
    SELECT DISTINCT customer_id FROM events
    WHERE event_type IN ('add_to_cart', 'consult')
      AND event_time >= (SELECT cutoff FROM cut) - to_days(CAST(:intent_days AS INTEGER))
      AND event_time < (SELECT cutoff FROM cut)
),
bad AS (
    SELECT customer_id, arg_max(event_type, event_time) AS last_bad_type, max(event_time) AS last_bad_time
    FROM events
    WHERE event_type IN ('complaint', 'return') AND event_time < (SELECT cutoff FROM cut)
    GROUP BY customer_id
)
SELECT c.customer_id,
       CASE
           WHEN p.purchases IS NULL THEN CASE WHEN i.customer_id IS NOT NULL THEN 'intent' ELSE 'prospect' END
           WHEN p.last_purchase < (SELECT cutoff FROM cut) - to_days(CAST(:churn_days AS INTEGER)) THEN 'churned'
           WHEN p.purchases >= :repeat_orders THEN 'repeat'
           ELSE 'customer'
       END AS stage,
       CASE WHEN b.last_bad_time >= p.last_purchase - to_days(CAST(:reason_days AS INTEGER))
            THEN b.last_bad_type END AS derived_reason
FROM customers c
LEFT JOIN p USING (customer_id)
LEFT JOIN intent i USING (customer_id)
LEFT JOIN bad b USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
  AND c.registered_at < (SELECT cutoff FROM cut)

-- name: lifecycle_counts_as_of
WITH s AS ({lifecycle_stages})
SELECT stage, count(*) AS customers FROM s GROUP BY stage

-- name: lifecycle_counts_stored
SELECT coalesce(lifecycle_stage, 'unset') AS stage, count(*) AS customers,
       count(churn_reason) FILTER (WHERE lifecycle_stage = 'churned') AS with_reason
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
GROUP BY 1

-- name: lifecycle_transitions
WITH s AS ({lifecycle_stages})
SELECT coalesce(c.lifecycle_stage, 'unset') AS before, s.stage AS after, count(*) AS customers
FROM customers c JOIN s USING (customer_id)
WHERE c.lifecycle_stage IS DISTINCT FROM s.stage
GROUP BY ALL ORDER BY customers DESC

-- name: lifecycle_apply
-- Churned customers keep a reason already recorded (e.g. by a steward); otherwise they get
-- the derived one. Other customers' churn_reason is left as it is (history, shown only while churned).
UPDATE customers AS c
SET lifecycle_stage = s.stage,
    churn_reason = CASE WHEN s.stage = 'churned' THEN coalesce(c.churn_reason, s.derived_reason)
                        ELSE c.churn_reason END
FROM ({lifecycle_stages}) AS s
WHERE c.customer_id = s.customer_id
  AND (c.lifecycle_stage IS DISTINCT FROM s.stage
       OR (s.stage = 'churned' AND c.churn_reason IS NULL AND s.derived_reason IS NOT NULL))

-- name: churn_reasons
SELECT coalesce(churn_reason, 'unknown') AS reason, count(*) AS customers
FROM customers
WHERE lifecycle_stage = 'churned' AND merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
GROUP BY 1 ORDER BY customers DESC

-- name: rfm_summary_snapshot
-- The same figures as rfm_summary, from the materialised snapshot (when its date is the one asked).
SELECT rfm_segment AS segment,
       count(*) AS customers,
       count(*) / sum(count(*)) OVER () AS customer_share,
       sum(monetary) AS revenue,
       sum(monetary) / nullif(sum(sum(monetary)) OVER (), 0) AS revenue_share,
       avg(monetary) AS avg_value,
       avg(frequency) AS avg_frequency,
       avg(recency_days) AS avg_recency_days
FROM customer_rfm
WHERE customer_id NOT IN (SELECT customer_id FROM customers WHERE deleted_at IS NOT NULL)
GROUP BY rfm_segment
ORDER BY revenue DESC

-- name: rfm_score_grid_snapshot
SELECT r_score, f_score, count(*) AS customers, avg(monetary) AS avg_value
FROM customer_rfm WHERE customer_id NOT IN (SELECT customer_id FROM customers WHERE deleted_at IS NOT NULL)
GROUP BY r_score, f_score ORDER BY r_score, f_score
