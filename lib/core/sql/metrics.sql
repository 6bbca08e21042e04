-- Metric queries for the dashboards. Periods are closed ranges of days [start, end].

-- ============================================================ Overview (dashboards)
-- Every query below reads the pre-aggregated tables of lib/aggregates.py and applies the
-- sidebar filters to agg_segs (the segment list) first. lib/metrics.py binds, per range X:
--   X_a / X_b          first and last day;
--   X_m1 .. X_m2       the whole calendar months inside it (none when X_m1 > X_m2);
--   [X_a, X_d1], [X_d2, X_b]  the days of its partial first / last month (empty when whole);
--   X_I                mask bits of its whole months (per-customer distinct counts);
--   X_e1 / X_e2        its partial first / last month (NULL when whole) with X_from / X_to day
--                      bits, X_lw its last whole month (X_e1 when none);
-- and per "everything up to day D" (prefix Xu): whole months <= Xu_um plus days [Xu_ua, Xu_ub].
-- Ranges: w = the selected period, p = the previous equal period, cw / cp = the churn windows
-- ending on their last days. docs/metrics.md explains why the parts add up to exact answers.

-- name: overview_segment_filter
-- The sidebar filters on agg_segs (empty list = no filter); the queries below include it.
(len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), channel))
      AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), province))
      AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), customer_type))
      AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), lifecycle_stage))

-- name: overview_cube_segs
-- The segments the sidebar filters select (segs), and the additive cubes' rows to read
-- (cube_segs): the all-segment rollup (seg 0) when nothing is filtered. Two CTEs.
segs AS (
    SELECT seg FROM agg_segs
    WHERE {{overview_segment_filter}}),
cube_segs AS (
    SELECT seg FROM segs WHERE NOT :unfiltered
    UNION ALL
    SELECT 0 WHERE :unfiltered)

-- name: overview_kpis
WITH {{overview_cube_segs}},
-- Additive figures: whole months from agg_month, the partial edges from agg_day.
mon AS (
    SELECT sum(new_customers) FILTER (WHERE month <= :wu_um) AS customers_w,
           sum(new_customers) FILTER (WHERE month <= :pu_um) AS customers_p,
           sum(new_customers) FILTER (WHERE month BETWEEN :w_m1 AND :w_m2) AS new_w,
           sum(new_customers) FILTER (WHERE month BETWEEN :p_m1 AND :p_m2) AS new_p,
           sum(first_buyers) FILTER (WHERE month <= :wu_um) AS buyers_w,
           sum(first_buyers) FILTER (WHERE month <= :pu_um) AS buyers_p,
           sum(first_buyers) FILTER (WHERE month <= :cwu_um) AS churn_base_w,
           sum(first_buyers) FILTER (WHERE month <= :cpu_um) AS churn_base_p,
           sum(revenue) FILTER (WHERE month BETWEEN :w_m1 AND :w_m2) AS revenue_w,
           sum(revenue) FILTER (WHERE month BETWEEN :p_m1 AND :p_m2) AS revenue_p,
           sum(orders) FILTER (WHERE month BETWEEN :w_m1 AND :w_m2) AS orders_w,
           sum(orders) FILTER (WHERE month BETWEEN :p_m1 AND :p_m2) AS orders_p,
           sum(revenue) FILTER (WHERE month <= :wu_um) AS ltv_w,
           sum(revenue) FILTER (WHERE month <= :pu_um) AS ltv_p
    FROM agg_month JOIN cube_segs USING (seg)),
dy AS (
    SELECT sum(new_customers) FILTER (WHERE day BETWEEN :wu_ua AND :wu_ub) AS customers_w,
           sum(new_customers) FILTER (WHERE day BETWEEN :pu_ua AND :pu_ub) AS customers_p,
           sum(new_customers) FILTER (WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b) AS new_w,
           sum(new_customers) FILTER (WHERE day BETWEEN :p_a AND :p_d1 OR day BETWEEN :p_d2 AND :p_b) AS new_p,
           sum(first_buyers) FILTER (WHERE day BETWEEN :wu_ua AND :wu_ub) AS buyers_w,
           sum(first_buyers) FILTER (WHERE day BETWEEN :pu_ua AND :pu_ub) AS buyers_p,
           sum(first_buyers) FILTER (WHERE day BETWEEN :cwu_ua AND :cwu_ub) AS churn_base_w,
           sum(first_buyers) FILTER (WHERE day BETWEEN :cpu_ua AND :cpu_ub) AS churn_base_p,
           sum(revenue) FILTER (WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b) AS revenue_w,
           sum(revenue) FILTER (WHERE day BETWEEN :p_a AND :p_d1 OR day BETWEEN :p_d2 AND :p_b) AS revenue_p,
           sum(orders) FILTER (WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b) AS orders_w,
           sum(orders) FILTER (WHERE day BETWEEN :p_a AND :p_d1 OR day BETWEEN :p_d2 AND :p_b) AS orders_p,
           sum(revenue) FILTER (WHERE day BETWEEN :wu_ua AND :wu_ub) AS ltv_w,
           sum(revenue) FILTER (WHERE day BETWEEN :pu_ua AND :pu_ub) AS ltv_p
    FROM agg_day JOIN cube_segs USING (seg)
    WHERE day BETWEEN :wu_ua AND :wu_ub OR day BETWEEN :pu_ua AND :pu_ub
       OR day BETWEEN :cwu_ua AND :cwu_ub OR day BETWEEN :cpu_ua AND :cpu_ub
       OR day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b
       OR day BETWEEN :p_a AND :p_d1 OR day BETWEEN :p_d2 AND :p_b),
-- Distinct customers over the whole months: one pass over one row per customer.
c AS (
    SELECT count(*) FILTER (WHERE act_mask & :w_I <> 0) AS act_w,
           count(*) FILTER (WHERE act_mask & :p_I <> 0) AS act_p,
           count(*) FILTER (WHERE buy_mask & :w_I <> 0) AS buy_w,
           count(*) FILTER (WHERE buy_mask & :p_I <> 0) AS buy_p,
           count(*) FILTER (WHERE buy_mask & :w_I <> 0 AND second_order_day <= :w_b) AS rep_w,
           count(*) FILTER (WHERE buy_mask & :p_I <> 0 AND second_order_day <= :p_b) AS rep_p,
           count(*) FILTER (WHERE buy_mask & :cw_I <> 0 AND first_order_day < :cw_a) AS kept_w,
           count(*) FILTER (WHERE buy_mask & :cp_I <> 0 AND first_order_day < :cp_a) AS kept_p
    FROM agg_customer JOIN segs USING (seg)),
-- ... plus those first seen in a partial edge month (none when the range is whole months):
-- on a day of the first month in range and in none of the whole months, or on a day of the
-- last month in range with no earlier day in the range.
w1 AS (
    SELECT count(*) FILTER (WHERE act_days & :w_from <> 0 AND (act_next_month IS NULL OR act_next_month > :w_lw)) AS act,
           count(*) FILTER (WHERE buy_days & :w_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :w_lw)) AS buy,
           count(*) FILTER (WHERE buy_days & :w_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :w_lw)
                            AND second_order_day <= :w_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :w_e1),
w2 AS (
    SELECT count(*) FILTER (WHERE act_days & :w_to <> 0 AND (act_prev_day IS NULL OR act_prev_day < :w_a)) AS act,
           count(*) FILTER (WHERE buy_days & :w_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :w_a)) AS buy,
           count(*) FILTER (WHERE buy_days & :w_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :w_a)
                            AND second_order_day <= :w_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :w_e2),
p1 AS (
    SELECT count(*) FILTER (WHERE act_days & :p_from <> 0 AND (act_next_month IS NULL OR act_next_month > :p_lw)) AS act,
           count(*) FILTER (WHERE buy_days & :p_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :p_lw)) AS buy,
           count(*) FILTER (WHERE buy_days & :p_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :p_lw)
                            AND second_order_day <= :p_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :p_e1),
p2 AS (
    SELECT count(*) FILTER (WHERE act_days & :p_to <> 0 AND (act_prev_day IS NULL OR act_prev_day < :p_a)) AS act,
           count(*) FILTER (WHERE buy_days & :p_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :p_a)) AS buy,
           count(*) FILTER (WHERE buy_days & :p_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :p_a)
                            AND second_order_day <= :p_b) AS rep
    FROM agg_customer_month JOIN segs USING (seg) WHERE month = :p_e2),
cw1 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cw_e1 AND first_order_day < :cw_a
      AND buy_days & :cw_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :cw_lw)),
cw2 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cw_e2 AND first_order_day < :cw_a
      AND buy_days & :cw_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :cw_a)),
cp1 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cp_e1 AND first_order_day < :cp_a
      AND buy_days & :cp_from <> 0 AND (buy_next_month IS NULL OR buy_next_month > :cp_lw)),
cp2 AS (
    SELECT count(*) AS kept FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :cp_e2 AND first_order_day < :cp_a
      AND buy_days & :cp_to <> 0 AND (buy_prev_day IS NULL OR buy_prev_day < :cp_a))
SELECT coalesce(mon.customers_w, 0) + coalesce(dy.customers_w, 0) AS customers_w,
       coalesce(mon.customers_p, 0) + coalesce(dy.customers_p, 0) AS customers_p,
       coalesce(mon.new_w, 0) + coalesce(dy.new_w, 0) AS new_w,
       coalesce(mon.new_p, 0) + coalesce(dy.new_p, 0) AS new_p,
       c.act_w + w1.act + w2.act AS active_w, c.act_p + p1.act + p2.act AS active_p,
       c.buy_w + w1.buy + w2.buy AS purchasers_w, c.buy_p + p1.buy + p2.buy AS purchasers_p,
       c.rep_w + w1.rep + w2.rep AS repeaters_w, c.rep_p + p1.rep + p2.rep AS repeaters_p,
       coalesce(mon.buyers_w, 0) + coalesce(dy.buyers_w, 0) AS buyers_w,
       coalesce(mon.buyers_p, 0) + coalesce(dy.buyers_p, 0) AS buyers_p,
       coalesce(mon.churn_base_w, 0) + coalesce(dy.churn_base_w, 0) AS churn_base_w,
       coalesce(mon.churn_base_w, 0) + coalesce(dy.churn_base_w, 0) - (c.kept_w + cw1.kept + cw2.kept) AS churned_w,
       coalesce(mon.churn_base_p, 0) + coalesce(dy.churn_base_p, 0) AS churn_base_p,
       coalesce(mon.churn_base_p, 0) + coalesce(dy.churn_base_p, 0) - (c.kept_p + cp1.kept + cp2.kept) AS churned_p,
       coalesce(mon.revenue_w, 0) + coalesce(dy.revenue_w, 0) AS revenue_w,
       coalesce(mon.revenue_p, 0) + coalesce(dy.revenue_p, 0) AS revenue_p,
       coalesce(mon.orders_w, 0) + coalesce(dy.orders_w, 0) AS orders_w,
       coalesce(mon.orders_p, 0) + coalesce(dy.orders_p, 0) AS orders_p,
       coalesce(mon.ltv_w, 0) + coalesce(dy.ltv_w, 0) AS lifetime_revenue_w,
       coalesce(mon.ltv_p, 0) + coalesce(dy.ltv_p, 0) AS lifetime_revenue_p
FROM mon, dy, c, w1, w2, p1, p2, cw1, cw2, cp1, cp2

-- name: overview_home
-- The landing page's headline numbers as of one day: customers registered by then, new in
-- its month, active within the active window (distinct, exact), net revenue of the last year.
-- No filters: the cubes' all-segment rollup rows (seg 0).
WITH mon AS (
    SELECT sum(new_customers) FILTER (WHERE month <= :hu_um) AS customers,
           sum(new_customers) FILTER (WHERE month BETWEEN :hm_m1 AND :hm_m2) AS new_this_month,
           sum(revenue) FILTER (WHERE month BETWEEN :hy_m1 AND :hy_m2) AS revenue_12m
    FROM agg_month WHERE seg = 0),
dy AS (
    SELECT sum(new_customers) FILTER (WHERE day BETWEEN :hu_ua AND :hu_ub) AS customers,
           sum(new_customers) FILTER (WHERE day BETWEEN :hm_a AND :hm_d1 OR day BETWEEN :hm_d2 AND :hm_b) AS new_this_month,
           sum(revenue) FILTER (WHERE day BETWEEN :hy_a AND :hy_d1 OR day BETWEEN :hy_d2 AND :hy_b) AS revenue_12m
    FROM agg_day
    WHERE seg = 0 AND (day BETWEEN :hu_ua AND :hu_ub OR day BETWEEN :hm_a AND :hm_d1 OR day BETWEEN :hm_d2 AND :hm_b
       OR day BETWEEN :hy_a AND :hy_d1 OR day BETWEEN :hy_d2 AND :hy_b)),
c AS (SELECT count(*) FILTER (WHERE act_mask & :ha_I <> 0) AS act FROM agg_customer),
a1 AS (
    SELECT count(*) AS act FROM agg_customer_month
    WHERE month = :ha_e1 AND act_days & :ha_from <> 0 AND (act_next_month IS NULL OR act_next_month > :ha_lw)),
a2 AS (
    SELECT count(*) AS act FROM agg_customer_month
    WHERE month = :ha_e2 AND act_days & :ha_to <> 0 AND (act_prev_day IS NULL OR act_prev_day < :ha_a))
SELECT coalesce(mon.customers, 0) + coalesce(dy.customers, 0) AS customers,
       coalesce(mon.new_this_month, 0) + coalesce(dy.new_this_month, 0) AS new_this_month,
       c.act + a1.act + a2.act AS active_customers,
       coalesce(mon.revenue_12m, 0) + coalesce(dy.revenue_12m, 0) AS revenue_12m
FROM mon, dy, c, a1, a2

-- name: overview_monthly
-- Per calendar month touched by the window, clipped to the window: new customers, monthly
-- active customers (distinct within the month) and net revenue.
WITH {{overview_cube_segs}},
months AS (
    SELECT CAST(m AS DATE) AS month
    FROM range(CAST(date_trunc('month', CAST(:w_a AS DATE)) AS DATE), CAST(:w_b AS DATE) + INTERVAL 1 DAY, INTERVAL 1 MONTH) t(m)),
additive AS (
    SELECT month, sum(new_customers) AS new_customers, sum(revenue) AS revenue, sum(orders) AS orders
    FROM agg_month JOIN cube_segs USING (seg)
    WHERE month BETWEEN :w_m1 AND :w_m2 GROUP BY month
    UNION ALL
    SELECT CAST(date_trunc('month', day) AS DATE), sum(new_customers), sum(revenue), sum(orders)
    FROM agg_day JOIN cube_segs USING (seg)
    WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b GROUP BY 1),
active AS (
    SELECT month, sum(customers) AS active_customers FROM agg_active_month JOIN cube_segs USING (seg)
    WHERE month BETWEEN :w_m1 AND :w_m2 GROUP BY month
    UNION ALL
    SELECT month, count(*) FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :w_e1 AND act_days & :w_from <> 0 GROUP BY month
    UNION ALL
    SELECT month, count(*) FROM agg_customer_month JOIN segs USING (seg)
    WHERE month = :w_e2 AND act_days & :w_to <> 0 GROUP BY month)
SELECT months.month,
       coalesce((SELECT sum(new_customers) FROM additive a WHERE a.month = months.month), 0) AS new_customers,
       coalesce((SELECT sum(active_customers) FROM active a WHERE a.month = months.month), 0) AS active_customers,
       coalesce((SELECT sum(revenue) FROM additive a WHERE a.month = months.month), 0) AS revenue,
       coalesce((SELECT sum(orders) FROM additive a WHERE a.month = months.month), 0) AS orders
FROM months
ORDER BY months.month

-- name: overview_breakdowns
-- Customers at the end of the window, new customers and net revenue in it, per value of each
-- breakdown dimension (dimension = channel | province | customer_type | industry).
-- Customers registered by the end = each segment's total minus those registered after it
-- (months after its month, days after it within its month): a window ending near today reads
-- almost nothing for that part.
WITH segs AS (
    SELECT seg, channel, province, customer_type, industry, customers FROM agg_segs
    WHERE {{overview_segment_filter}}),
parts AS (
    SELECT seg,
           sum(new_customers) FILTER (WHERE month >= :wa_am) AS registered_after,
           sum(new_customers) FILTER (WHERE month BETWEEN :w_m1 AND :w_m2) AS new_customers,
           sum(revenue) FILTER (WHERE month BETWEEN :w_m1 AND :w_m2) AS revenue
    FROM agg_month JOIN segs USING (seg)
    WHERE month >= least(:wa_am, :w_m1)
    GROUP BY seg
    UNION ALL
    SELECT seg,
           sum(new_customers) FILTER (WHERE day BETWEEN :wa_d1 AND :wa_d2),
           sum(new_customers) FILTER (WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b),
           sum(revenue) FILTER (WHERE day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b)
    FROM agg_day JOIN segs USING (seg)
    WHERE day BETWEEN :wa_d1 AND :wa_d2 OR day BETWEEN :w_a AND :w_d1 OR day BETWEEN :w_d2 AND :w_b
    GROUP BY seg),
per_seg AS (
    SELECT s.channel, s.province, s.customer_type, s.industry,
           s.customers - coalesce(sum(p.registered_after), 0) AS customers,
           coalesce(sum(p.new_customers), 0) AS new_customers, coalesce(sum(p.revenue), 0) AS revenue
    FROM segs s LEFT JOIN parts p USING (seg)
    GROUP BY s.seg, s.channel, s.province, s.customer_type, s.industry, s.customers)
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
-- Customers registered by the window's end per stored lifecycle stage, plus how many of them
-- have bought at least twice (the churned among them passed through "repeat"): each
-- segment's totals minus the customers registered after the end (as in overview_breakdowns).
WITH segs AS (
    SELECT seg, lifecycle_stage, customers, repeat_buyers FROM agg_segs
    WHERE {{overview_segment_filter}}),
after AS (
    SELECT m.seg, sum(m.new_customers) AS customers, sum(m.repeat_buyers) AS repeat_buyers
    FROM agg_month m JOIN segs USING (seg) WHERE m.month >= :wa_am GROUP BY m.seg
    UNION ALL
    SELECT d.seg, sum(d.new_customers), sum(d.repeat_buyers)
    FROM agg_day d JOIN segs USING (seg) WHERE d.day BETWEEN :wa_d1 AND :wa_d2 GROUP BY d.seg),
per_seg AS (
    SELECT s.lifecycle_stage, s.customers - coalesce(sum(a.customers), 0) AS customers,
           s.repeat_buyers - coalesce(sum(a.repeat_buyers), 0) AS repeat_buyers
    FROM segs s LEFT JOIN after a USING (seg)
    GROUP BY s.seg, s.lifecycle_stage, s.customers, s.repeat_buyers)
SELECT lifecycle_stage AS stage, sum(customers) AS customers, sum(repeat_buyers) AS repeat_buyers
FROM per_seg
GROUP BY lifecycle_stage

-- name: overview_cohorts
-- First-purchase cohorts starting in the window: customers buying again k months later.
WITH {{overview_cube_segs}}
SELECT cohort_month, months_since, sum(customers) AS customers
FROM agg_cohort JOIN cube_segs USING (seg)
WHERE cohort_month >= CAST(date_trunc('month', CAST(:w_a AS DATE)) AS DATE) AND cohort_month <= :w_b
  AND cohort_month + to_months(months_since) <= :w_b
GROUP BY cohort_month, months_since
ORDER BY cohort_month, months_since

-- name: overview_dimension_values
-- Values offered by the sidebar filters, most customers first (built by aggregates.refresh).
SELECT dimension, value, customers FROM agg_filter_values
ORDER BY dimension, customers DESC, value
