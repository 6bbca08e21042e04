-- Rebuild of the dashboards' pre-aggregated tables (lib/aggregates.py runs these in order, in
-- one transaction). Kept orders = paid or partially refunded; net = amount - refund_amount of
-- every order that is not cancelled. Only live customers (not merged, not deleted) count.

-- name: agg_data_span
SELECT least((SELECT min(registered_at) FROM customers), (SELECT min(order_time) FROM orders),
              (SELECT min(event_time) FROM events))::DATE AS first_day,
       greatest((SELECT max(registered_at) FROM customers), (SELECT max(order_time) FROM orders),
                (SELECT max(event_time) FROM events))::DATE AS last_day

-- name: agg_build_live
CREATE OR REPLACE TEMP TABLE agg_live AS
SELECT customer_id, coalesce(channel, '') AS channel, coalesce(province, '') AS province,
       customer_type, coalesce(industry, '') AS industry,
       coalesce(lifecycle_stage, '') AS lifecycle_stage, CAST(registered_at AS DATE) AS registered_day
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL

-- name: agg_build_segs
CREATE OR REPLACE TABLE agg_segs AS
SELECT CAST(row_number() OVER (ORDER BY channel, province, customer_type, industry, lifecycle_stage) AS INTEGER) AS seg,
       channel, province, customer_type, industry, lifecycle_stage, CAST(customers AS BIGINT) AS customers,
       CAST(repeat_buyers AS BIGINT) AS repeat_buyers
FROM (SELECT l.channel, l.province, l.customer_type, l.industry, l.lifecycle_stage, count(*) AS customers,
             count(*) FILTER (WHERE b.kept_orders >= 2) AS repeat_buyers
      FROM agg_live l LEFT JOIN agg_buyers b USING (customer_id) GROUP BY ALL)

-- name: agg_build_filter_values
-- The sidebar filters' options: a few hundred rows the page reads on every run.
CREATE OR REPLACE TABLE agg_filter_values AS
SELECT 'channel' AS dimension, channel AS value, CAST(sum(customers) AS BIGINT) AS customers FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'province', province, CAST(sum(customers) AS BIGINT) FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'customer_type', customer_type, CAST(sum(customers) AS BIGINT) FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'lifecycle_stage', lifecycle_stage, CAST(sum(customers) AS BIGINT) FROM agg_segs GROUP BY 2

-- name: agg_build_live_seg
CREATE OR REPLACE TEMP TABLE agg_live_seg AS
SELECT l.customer_id, s.seg, l.registered_day
FROM agg_live l JOIN agg_segs s USING (channel, province, customer_type, industry, lifecycle_stage)

-- name: agg_build_kept_orders
CREATE OR REPLACE TEMP TABLE agg_kept AS
SELECT customer_id, CAST(order_time AS DATE) AS day
FROM orders
WHERE status IN ('paid', 'partially_refunded')

-- name: agg_build_buyers
CREATE OR REPLACE TEMP TABLE agg_buyers AS
SELECT customer_id, min(day, 2) AS first_two, CAST(count(*) AS INTEGER) AS kept_orders
FROM agg_kept GROUP BY customer_id

-- name: agg_build_customer_months
-- One pass over events and kept orders: per customer and month, a bit per active day.
CREATE OR REPLACE TEMP TABLE agg_cm AS
SELECT customer_id, CAST(date_trunc('month', day) AS DATE) AS month,
       CAST(bit_or(CASE WHEN is_event THEN CAST(1 AS INTEGER) << CAST(dayofmonth(day) - 1 AS INTEGER) ELSE 0 END) AS INTEGER) AS act_days,
       max(CASE WHEN is_event THEN day END) AS act_last,
       CAST(bit_or(CASE WHEN is_event THEN 0 ELSE CAST(1 AS INTEGER) << CAST(dayofmonth(day) - 1 AS INTEGER) END) AS INTEGER) AS buy_days,
       max(CASE WHEN is_event THEN NULL ELSE day END) AS buy_last
FROM (SELECT customer_id, CAST(event_time AS DATE) AS day, true AS is_event FROM events
      UNION ALL
      SELECT customer_id, day, false AS is_event FROM agg_kept)
GROUP BY ALL

-- name: agg_build_customer_month
-- Sorted by month so that a window's edge months are read without touching the rest.
CREATE OR REPLACE TABLE agg_customer_month AS
SELECT m.month, l.seg,
       m.act_days,
       lag(m.act_last IGNORE NULLS) OVER w AS act_prev_day,
       lead(CASE WHEN m.act_days <> 0 THEN m.month END IGNORE NULLS) OVER w AS act_next_month,
       m.buy_days,
       lag(m.buy_last IGNORE NULLS) OVER w AS buy_prev_day,
       lead(CASE WHEN m.buy_days <> 0 THEN m.month END IGNORE NULLS) OVER w AS buy_next_month,
       b.first_two[1] AS first_order_day, b.first_two[2] AS second_order_day
FROM agg_cm m JOIN agg_live_seg l USING (customer_id) LEFT JOIN agg_buyers b USING (customer_id)
WINDOW w AS (PARTITION BY m.customer_id ORDER BY m.month)
ORDER BY m.month

-- name: agg_build_customer
CREATE OR REPLACE TABLE agg_customer AS
WITH masks AS (
    SELECT customer_id,
           bit_or(CASE WHEN act_days <> 0 THEN CAST(1 AS BIGINT) << CAST(datediff('month', CAST(:base_month AS DATE), month) AS BIGINT) ELSE 0 END) AS act_mask,
           bit_or(CASE WHEN buy_days <> 0 THEN CAST(1 AS BIGINT) << CAST(datediff('month', CAST(:base_month AS DATE), month) AS BIGINT) ELSE 0 END) AS buy_mask
    FROM agg_cm
    WHERE month >= CAST(:base_month AS DATE)
      AND month < CAST(:base_month AS DATE) + INTERVAL 63 MONTH
    GROUP BY customer_id)
SELECT l.customer_id, l.seg, l.registered_day,
       b.first_two[1] AS first_order_day, b.first_two[2] AS second_order_day,
       coalesce(b.kept_orders, 0) AS kept_orders,
       coalesce(masks.act_mask, 0) AS act_mask, coalesce(masks.buy_mask, 0) AS buy_mask
FROM agg_live_seg l
LEFT JOIN agg_buyers b USING (customer_id)
LEFT JOIN masks USING (customer_id)
ORDER BY l.registered_day

-- Rollups: the additive cubes below also hold seg = 0, the total over every segment, stored
-- first, so that an unfiltered Overview reads a few thousand rows instead of every segment's
-- (the join with the one-row segment list {0} lets DuckDB skip the other row groups).

-- name: agg_build_day
-- Additive figures per day and segment: registrations (and how many of those customers have
-- bought twice or more), first kept orders, kept orders and net revenue.
CREATE OR REPLACE TABLE agg_day AS
SELECT * FROM (
WITH registered AS (
    SELECT l.registered_day AS day, l.seg, count(*) AS new_customers,
           count(*) FILTER (WHERE b.kept_orders >= 2) AS repeat_buyers
    FROM agg_live_seg l LEFT JOIN agg_buyers b USING (customer_id)
    GROUP BY ALL),
first_orders AS (
    SELECT b.first_two[1] AS day, l.seg, count(*) AS first_buyers
    FROM agg_buyers b JOIN agg_live_seg l USING (customer_id)
    GROUP BY ALL),
sales AS (
    SELECT CAST(o.order_time AS DATE) AS day, l.seg,
           count(*) FILTER (WHERE o.status IN ('paid', 'partially_refunded')) AS orders,
           sum(o.amount - o.refund_amount) AS revenue
    FROM orders o JOIN agg_live_seg l USING (customer_id)
    WHERE o.status <> 'cancelled'
    GROUP BY ALL)
SELECT day, CASE WHEN GROUPING(seg) = 1 THEN 0 ELSE seg END AS seg,
       CAST(coalesce(sum(new_customers), 0) AS BIGINT) AS new_customers,
       CAST(coalesce(sum(repeat_buyers), 0) AS BIGINT) AS repeat_buyers,
       CAST(coalesce(sum(first_buyers), 0) AS BIGINT) AS first_buyers,
       CAST(coalesce(sum(orders), 0) AS BIGINT) AS orders,
       CAST(coalesce(sum(revenue), 0) AS DECIMAL(18, 2)) AS revenue
FROM (SELECT * FROM registered UNION ALL BY NAME SELECT * FROM first_orders
      UNION ALL BY NAME SELECT * FROM sales)
GROUP BY GROUPING SETS ((day, seg), (day)))
ORDER BY seg <> 0, day

-- name: agg_build_month
CREATE OR REPLACE TABLE agg_month AS
SELECT * FROM (
    SELECT CAST(date_trunc('month', day) AS DATE) AS month, seg,
           CAST(sum(new_customers) AS BIGINT) AS new_customers,
           CAST(sum(repeat_buyers) AS BIGINT) AS repeat_buyers,
           CAST(sum(first_buyers) AS BIGINT) AS first_buyers,
           CAST(sum(orders) AS BIGINT) AS orders,
           CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue
    FROM agg_day
    GROUP BY ALL)
ORDER BY seg <> 0, month

-- name: agg_build_active_month
CREATE OR REPLACE TABLE agg_active_month AS
SELECT * FROM (
    SELECT month, CASE WHEN GROUPING(seg) = 1 THEN 0 ELSE seg END AS seg, CAST(count(*) AS BIGINT) AS customers
    FROM agg_customer_month
    WHERE act_days <> 0
    GROUP BY GROUPING SETS ((month, seg), (month)))
ORDER BY seg <> 0, month

-- name: agg_build_cohort
CREATE OR REPLACE TABLE agg_cohort AS
SELECT * FROM (
    SELECT CAST(date_trunc('month', first_order_day) AS DATE) AS cohort_month,
           CAST(datediff('month', date_trunc('month', first_order_day), month) AS INTEGER) AS months_since,
           CASE WHEN GROUPING(seg) = 1 THEN 0 ELSE seg END AS seg, CAST(count(*) AS BIGINT) AS customers
    FROM agg_customer_month
    WHERE buy_days <> 0
    GROUP BY GROUPING SETS ((cohort_month, months_since, seg), (cohort_month, months_since)))
ORDER BY seg <> 0, cohort_month, months_since

-- name: agg_source_fingerprint
-- Every row the aggregates are built from, hashed (~2 s at 1M customers / 20M events): the
-- same value means nothing they count has changed since they were built from it.
SELECT (SELECT count(*) || ':' || coalesce(sum(hash(c)), 0) FROM customers c) || '/'
       || (SELECT count(*) || ':' || coalesce(sum(hash(o)), 0) FROM orders o) || '/'
       || (SELECT count(*) || ':' || coalesce(sum(hash(e)), 0) FROM events e) AS fingerprint

-- name: agg_build_meta
CREATE OR REPLACE TABLE agg_meta AS
SELECT CAST(current_timestamp AS TIMESTAMP) AS refreshed_at, CAST(:seconds AS DOUBLE) AS seconds,
       CAST(:base_month AS DATE) AS base_month,
       CAST((SELECT count(*) FROM agg_customer) AS BIGINT) AS customers,
       CAST((SELECT count(*) FROM orders) AS BIGINT) AS orders,
       CAST((SELECT count(*) FROM events) AS BIGINT) AS events,
       CAST(:first_day AS DATE) AS first_day, CAST(:last_day AS DATE) AS last_day,
       CAST(:fingerprint AS VARCHAR) AS source_fingerprint

-- name: agg_drop_temps
DROP TABLE IF EXISTS agg_live;
DROP TABLE IF EXISTS agg_live_seg;
DROP TABLE IF EXISTS agg_cm;
DROP TABLE IF EXISTS agg_kept;
DROP TABLE IF EXISTS agg_buyers

-- name: agg_meta_row
SELECT refreshed_at, seconds, base_month, customers, orders, events, first_day, last_day
FROM agg_meta LIMIT 1

-- name: agg_meta_built_from
-- (SELECT *: aggregates built before the fingerprint existed have no such column)
SELECT * FROM agg_meta LIMIT 1

-- name: agg_segs_all
SELECT seg, channel, province, customer_type, industry, lifecycle_stage, customers
FROM agg_segs ORDER BY seg
