-- Metric queries for the dashboards. Periods are closed ranges of days [start, end].

-- ============================================================ Overview (dashboards)
-- Every query below reads the pre-aggregated tables of lib/aggregates.py and applies the
-- sidebar filters to agg_segs (the segment list) first. Parameters per window X (w = the
-- selected period, p = the previous equal period, cw / cp = the churn windows ending on
-- their last days): X_a / X_b first and last day, X_ma / X_mb their months, X_I the mask of
-- whole months strictly between them, X_from / X_to day-of-month bits for the partial edge
-- months. See docs/metrics.md for why the three parts add up to an exact distinct count.

-- name: overview_kpis
WITH segs AS (
    SELECT seg FROM agg_segs
    WHERE (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage))),
c AS (
    SELECT
        coalesce(sum(CAST(registered_day <= :w_b AS INTEGER)), 0) AS customers_w,
        coalesce(sum(CAST(registered_day <= :p_b AS INTEGER)), 0) AS customers_p,
        coalesce(sum(CAST(registered_day >= :w_a AND registered_day <= :w_b AS INTEGER)), 0) AS new_w,
        coalesce(sum(CAST(registered_day >= :p_a AND registered_day <= :p_b AS INTEGER)), 0) AS new_p,
        coalesce(sum(CAST(first_order_day <= :w_b AS INTEGER)), 0) AS buyers_w,
        coalesce(sum(CAST(first_order_day <= :p_b AS INTEGER)), 0) AS buyers_p,
        coalesce(sum(CAST(first_order_day < :cw_a AS INTEGER)), 0) AS churn_base_w,
        coalesce(sum(CAST(first_order_day < :cp_a AS INTEGER)), 0) AS churn_base_p,
        coalesce(sum(CAST(act_mask & :w_I <> 0 AS INTEGER)), 0) AS act_w,
        coalesce(sum(CAST(act_mask & :p_I <> 0 AS INTEGER)), 0) AS act_p,
        coalesce(sum(CAST(buy_mask & :w_I <> 0 AS INTEGER)), 0) AS buy_w,
        coalesce(sum(CAST(buy_mask & :p_I <> 0 AS INTEGER)), 0) AS buy_p,
        coalesce(sum(CAST(buy_mask & :w_I <> 0 AND second_order_day <= :w_b AS INTEGER)), 0) AS rep_w,
        coalesce(sum(CAST(buy_mask & :p_I <> 0 AND second_order_day <= :p_b AS INTEGER)), 0) AS rep_p,
        coalesce(sum(CAST(buy_mask & :cw_I <> 0 AND first_order_day < :cw_a AS INTEGER)), 0) AS kept_w,
        coalesce(sum(CAST(buy_mask & :cp_I <> 0 AND first_order_day < :cp_a AS INTEGER)), 0) AS kept_p
    FROM agg_customer JOIN segs USING (seg)),
w1 AS (
    SELECT count(*) FILTER (WHERE act_days & :w_from <> 0 AND (act_next_month IS NULL OR act_next_month >= :w_mb)) AS act,
           count(*) FILTER (WHERE buy_days & :w_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :w_mb)) AS buy,
           count(*) FILTER (WHERE buy_days & :w_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :w_mb)
                            AND second_order_day <= :w_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :w_ma),
w2 AS (
    SELECT count(*) FILTER (WHERE act_days & :w_to <> 0 AND (act_prev_day IS NULL OR act_prev_day < :w_a)) AS act,
           count(*) FILTER (WHERE buy_days & :w_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :w_a)) AS buy,
           count(*) FILTER (WHERE buy_days & :w_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :w_a)
                            AND second_order_day <= :w_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :w_mb AND :w_mb <> :w_ma),
p1 AS (
    SELECT count(*) FILTER (WHERE act_days & :p_from <> 0 AND (act_next_month IS NULL OR act_next_month >= :p_mb)) AS act,
           count(*) FILTER (WHERE buy_days & :p_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :p_mb)) AS buy,
           count(*) FILTER (WHERE buy_days & :p_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :p_mb)
                            AND second_order_day <= :p_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :p_ma),
p2 AS (
    SELECT count(*) FILTER (WHERE act_days & :p_to <> 0 AND (act_prev_day IS NULL OR act_prev_day < :p_a)) AS act,
           count(*) FILTER (WHERE buy_days & :p_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :p_a)) AS buy,
           count(*) FILTER (WHERE buy_days & :p_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :p_a)
                            AND second_order_day <= :p_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :p_mb AND :p_mb <> :p_ma),
cw1 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cw_ma AND first_order_day < :cw_a
      AND buy_days & :cw_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :cw_mb)),
cw2 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cw_mb AND :cw_mb <> :cw_ma AND first_order_day < :cw_a
      AND buy_days & :cw_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :cw_a)),
cp1 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cp_ma AND first_order_day < :cp_a
      AND buy_days & :cp_from <> 0 AND (buy_next_month IS NULL OR buy_next_month >= :cp_mb)),
cp2 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cp_mb AND :cp_mb <> :cp_ma AND first_order_day < :cp_a
      AND buy_days & :cp_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :cp_a)),
sm AS (
    SELECT sum(revenue) FILTER (WHERE month > :w_ma AND month < :w_mb) AS rev_w,
           sum(orders) FILTER (WHERE month > :w_ma AND month < :w_mb) AS ord_w,
           sum(revenue) FILTER (WHERE month > :p_ma AND month < :p_mb) AS rev_p,
           sum(orders) FILTER (WHERE month > :p_ma AND month < :p_mb) AS ord_p,
           sum(revenue) FILTER (WHERE month < :w_mb) AS ltv_w,
           sum(revenue) FILTER (WHERE month < :p_mb) AS ltv_p
    FROM agg_sales_month JOIN segs USING (seg) WHERE month < :w_mb),
sd AS (
    SELECT sum(revenue) FILTER (WHERE day BETWEEN :w_a AND :w_e1 OR day BETWEEN :w_e2 AND :w_b) AS rev_w,
           sum(orders) FILTER (WHERE day BETWEEN :w_a AND :w_e1 OR day BETWEEN :w_e2 AND :w_b) AS ord_w,
           sum(revenue) FILTER (WHERE day BETWEEN :p_a AND :p_e1 OR day BETWEEN :p_e2 AND :p_b) AS rev_p,
           sum(orders) FILTER (WHERE day BETWEEN :p_a AND :p_e1 OR day BETWEEN :p_e2 AND :p_b) AS ord_p,
           sum(revenue) FILTER (WHERE day BETWEEN :w_mb AND :w_b) AS ltv_w,
           sum(revenue) FILTER (WHERE day BETWEEN :p_mb AND :p_b) AS ltv_p
    FROM agg_sales_day JOIN segs USING (seg)
    WHERE (day BETWEEN :w_a AND :w_e1 OR day BETWEEN :w_e2 AND :w_b OR day BETWEEN :p_a AND :p_e1
           OR day BETWEEN :p_e2 AND :p_b OR day BETWEEN :w_mb AND :w_b OR day BETWEEN :p_mb AND :p_b))
SELECT c.customers_w, c.customers_p, c.new_w, c.new_p,
       c.act_w + w1.act + w2.act AS active_w, c.act_p + p1.act + p2.act AS active_p,
       c.buy_w + w1.buy + w2.buy AS purchasers_w, c.buy_p + p1.buy + p2.buy AS purchasers_p,
       c.rep_w + w1.rep + w2.rep AS repeaters_w, c.rep_p + p1.rep + p2.rep AS repeaters_p,
       c.buyers_w, c.buyers_p,
       c.churn_base_w, c.churn_base_w - (c.kept_w + cw1.kept + cw2.kept) AS churned_w,
       c.churn_base_p, c.churn_base_p - (c.kept_p + cp1.kept + cp2.kept) AS churned_p,
       coalesce(sm.rev_w, 0) + coalesce(sd.rev_w, 0) AS revenue_w,
       coalesce(sm.rev_p, 0) + coalesce(sd.rev_p, 0) AS revenue_p,
       coalesce(sm.ord_w, 0) + coalesce(sd.ord_w, 0) AS orders_w,
       coalesce(sm.ord_p, 0) + coalesce(sd.ord_p, 0) AS orders_p,
       coalesce(sm.ltv_w, 0) + coalesce(sd.ltv_w, 0) AS lifetime_revenue_w,
       coalesce(sm.ltv_p, 0) + coalesce(sd.ltv_p, 0) AS lifetime_revenue_p
FROM c, w1, w2, p1, p2, cw1, cw2, cp1, cp2, sm, sd

-- name: overview_monthly
-- Per calendar month touched by the window, clipped to the window: new customers, monthly
-- active customers (distinct within the month) and net revenue.
WITH segs AS (
    SELECT seg FROM agg_segs
    WHERE (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage))),
months AS (
    SELECT CAST(m AS DATE) AS month FROM range(CAST(:w_ma AS DATE), CAST(:w_mb AS DATE) + INTERVAL 1 MONTH, INTERVAL 1 MONTH) t(m)),
new AS (
    SELECT CAST(date_trunc('month', registered_day) AS DATE) AS month, count(*) AS new_customers
    FROM agg_customer JOIN segs USING (seg) WHERE registered_day >= :w_a AND registered_day <= :w_b
    GROUP BY 1),
act_inner AS (
    SELECT month, sum(customers) AS active_customers FROM agg_active_month JOIN segs USING (seg)
    WHERE month > :w_ma AND month < :w_mb GROUP BY 1),
act_edge AS (
    SELECT month, count(*) AS active_customers FROM agg_customer_month JOIN segs USING (seg)
    WHERE ((month = :w_ma AND act_days & :w_from <> 0) OR (month = :w_mb AND month <> :w_ma AND act_days & :w_to <> 0))
    GROUP BY 1),
rev AS (
    SELECT month, sum(revenue) AS revenue, sum(orders) AS orders FROM agg_sales_month JOIN segs USING (seg)
    WHERE month > :w_ma AND month < :w_mb GROUP BY 1
    UNION ALL
    SELECT CAST(date_trunc('month', day) AS DATE), sum(revenue), sum(orders) FROM agg_sales_day JOIN segs USING (seg)
    WHERE (day BETWEEN :w_a AND :w_e1 OR day BETWEEN :w_e2 AND :w_b) GROUP BY 1)
SELECT months.month,
       coalesce(new.new_customers, 0) AS new_customers,
       coalesce(act_inner.active_customers, act_edge.active_customers, 0) AS active_customers,
       coalesce((SELECT sum(revenue) FROM rev WHERE rev.month = months.month), 0) AS revenue,
       coalesce((SELECT sum(orders) FROM rev WHERE rev.month = months.month), 0) AS orders
FROM months
LEFT JOIN new USING (month)
LEFT JOIN act_inner USING (month)
LEFT JOIN act_edge USING (month)
ORDER BY months.month

-- name: overview_breakdowns
-- Customers at the end of the window, new customers and net revenue in it, per value of each
-- breakdown dimension (dimension = channel | province | customer_type | industry).
WITH segs AS (
    SELECT seg, channel, province, customer_type, industry FROM agg_segs
    WHERE (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage))),
cust AS (
    SELECT seg, count(*) FILTER (WHERE registered_day <= :w_b) AS customers,
           count(*) FILTER (WHERE registered_day >= :w_a) AS new_customers
    FROM agg_customer JOIN segs USING (seg) WHERE registered_day <= :w_b GROUP BY seg),
rev AS (
    SELECT seg, sum(revenue) AS revenue FROM (
        SELECT seg, revenue FROM agg_sales_month JOIN segs USING (seg)
        WHERE month > :w_ma AND month < :w_mb
        UNION ALL
        SELECT seg, revenue FROM agg_sales_day JOIN segs USING (seg)
        WHERE (day BETWEEN :w_a AND :w_e1 OR day BETWEEN :w_e2 AND :w_b))
    GROUP BY seg),
per_seg AS (
    SELECT s.channel, s.province, s.customer_type, s.industry,
           coalesce(cust.customers, 0) AS customers, coalesce(cust.new_customers, 0) AS new_customers,
           coalesce(rev.revenue, 0) AS revenue
    FROM segs s LEFT JOIN cust USING (seg) LEFT JOIN rev USING (seg))
SELECT CASE WHEN GROUPING(channel) = 0 THEN 'channel'
            WHEN GROUPING(province) = 0 THEN 'province'
            WHEN GROUPING(customer_type) = 0 THEN 'customer_type'
            ELSE 'industry' END AS dimension,
       coalesce(channel, province, customer_type, industry) AS value,
       sum(customers) AS customers, sum(new_customers) AS new_customers, sum(revenue) AS revenue
FROM per_seg
GROUP BY GROUPING SETS ((channel), (province), (customer_type), (industry))
HAVING sum(customers) > 0 OR sum(revenue) <> 0
ORDER BY dimension, customers DESC, value

-- name: overview_lifecycle
-- Customers registered by the window's end per stored lifecycle stage, plus how many of the
-- churned had bought at least twice (they passed through "repeat").
WITH segs AS (
    SELECT seg, lifecycle_stage FROM agg_segs
    WHERE (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage))),
per_seg AS (
    SELECT seg, count(*) AS customers, count(*) FILTER (WHERE kept_orders >= 2) AS repeat_buyers
    FROM agg_customer JOIN segs USING (seg) WHERE registered_day <= :w_b GROUP BY seg)
SELECT s.lifecycle_stage AS stage, sum(p.customers) AS customers,
       sum(p.repeat_buyers) AS repeat_buyers
FROM per_seg p JOIN segs s USING (seg)
GROUP BY s.lifecycle_stage

-- name: overview_cohorts
-- First-purchase cohorts starting in the window: customers buying again k months later.
WITH segs AS (
    SELECT seg FROM agg_segs
    WHERE (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage)))
SELECT cohort_month, months_since, sum(customers) AS customers
FROM agg_cohort JOIN segs USING (seg)
WHERE cohort_month >= :w_ma AND cohort_month <= :w_mb
  AND cohort_month + to_months(months_since) <= :w_mb
GROUP BY cohort_month, months_since
ORDER BY cohort_month, months_since

-- name: overview_dimension_values
-- Values offered by the sidebar filters, most customers first.
SELECT 'channel' AS dimension, channel AS value, sum(customers) AS customers FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'province', province, sum(customers) FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'customer_type', customer_type, sum(customers) FROM agg_segs GROUP BY 2
UNION ALL
SELECT 'lifecycle_stage', lifecycle_stage, sum(customers) FROM agg_segs GROUP BY 2
ORDER BY dimension, customers DESC, value
