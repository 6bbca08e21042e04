-- Marketing models: churn features, labels and scores; CLV summaries (BG/NBD + Gamma-Gamma).
-- Every feature reads only rows strictly before cutoff (a timestamp); labels read only rows
-- in [cutoff, cutoff + horizon). Population: live customers registered before the cutoff
-- with at least one purchase (paid or partially refunded order) before it. sample_mod and
-- sample_keep select a deterministic hash sample (1 and 1 = everyone); id_lo/id_hi a batch.

-- name: churn_id_bounds
-- Customer-id boundaries that split the live customers into batches batches of equal size.
SELECT quantile_disc(customer_id, CAST(:qs AS DOUBLE[])) AS bounds, count(*) AS customers,
       max(customer_id) AS max_id
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: churn_features
WITH pop AS (
    SELECT customer_id, channel, customer_type, gender, birth_date, registered_at
    FROM customers
    WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
      AND registered_at < CAST(:cutoff AS TIMESTAMP)
      AND customer_id >= :id_lo AND customer_id < :id_hi
      AND hash(customer_id) % CAST(:sample_mod AS UBIGINT) < CAST(:sample_keep AS UBIGINT)
),
o AS (
    SELECT o.customer_id,
           count(*) FILTER (WHERE o.status IN ('paid', 'partially_refunded')) AS orders,
           sum(o.amount - o.refund_amount) FILTER (WHERE o.status IN ('paid', 'partially_refunded')) AS monetary,
           max(o.order_time) FILTER (WHERE o.status IN ('paid', 'partially_refunded')) AS last_order,
           min(o.order_time) FILTER (WHERE o.status IN ('paid', 'partially_refunded')) AS first_order,
           count(*) FILTER (WHERE o.status IN ('paid', 'partially_refunded')
                              AND o.order_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 90 DAY) AS orders_90d,
           count(*) FILTER (WHERE o.status IN ('paid', 'partially_refunded')
                              AND o.order_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 180 DAY
                              AND o.order_time < CAST(:cutoff AS TIMESTAMP) - INTERVAL 90 DAY) AS orders_prev_90d,
           coalesce(sum(o.amount - o.refund_amount) FILTER (WHERE o.status IN ('paid', 'partially_refunded')
                              AND o.order_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 365 DAY), 0) AS spend_365d,
           count(*) FILTER (WHERE o.status IN ('refunded', 'partially_refunded')) AS refunds,
           count(DISTINCT o.category) AS categories
    FROM orders o
    JOIN pop USING (customer_id)
    WHERE o.order_time < CAST(:cutoff AS TIMESTAMP)
    GROUP BY o.customer_id
),
e AS (
    SELECT ev.customer_id,
           count(*) FILTER (WHERE ev.event_type = 'browse' AND ev.event_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 30 DAY) AS browse_30d,
           count(*) FILTER (WHERE ev.event_type = 'browse' AND ev.event_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 90 DAY) AS browse_90d,
           count(*) FILTER (WHERE ev.event_type = 'add_to_cart' AND ev.event_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 90 DAY) AS carts_90d,
           count(*) FILTER (WHERE ev.event_type = 'complaint') AS complaints_365d,
           count(*) FILTER (WHERE ev.event_type = 'consult') AS consults_365d,
           count(*) FILTER (WHERE ev.event_type = 'return') AS returns_365d,
           max(ev.event_time) AS last_event
    FROM events ev
    JOIN pop USING (customer_id)
    WHERE ev.event_time < CAST(:cutoff AS TIMESTAMP)
      AND ev.event_time >= CAST(:cutoff AS TIMESTAMP) - INTERVAL 365 DAY
    GROUP BY ev.customer_id
)
SELECT pop.customer_id,
       CAST(date_diff('day', o.last_order, CAST(:cutoff AS TIMESTAMP)) AS DOUBLE) AS recency_days,
       CAST(o.orders AS DOUBLE) AS frequency,
       CAST(o.monetary AS DOUBLE) AS monetary,
       CAST(o.monetary / o.orders AS DOUBLE) AS avg_order_value,
       CAST(o.orders_90d AS DOUBLE) AS orders_90d,
       CAST(o.orders_prev_90d AS DOUBLE) AS orders_prev_90d,
       CAST(o.orders_90d - o.orders_prev_90d AS DOUBLE) AS order_trend,
       CAST(o.spend_365d AS DOUBLE) AS spend_365d,
       CAST(date_diff('day', pop.registered_at, CAST(:cutoff AS TIMESTAMP)) AS DOUBLE) AS tenure_days,
       CAST(date_diff('day', o.first_order, o.last_order) AS DOUBLE) / greatest(o.orders - 1, 1) AS avg_gap_days,
       CAST(o.refunds AS DOUBLE) / o.orders AS refund_ratio,
       CAST(o.categories AS DOUBLE) AS categories,
       CAST(coalesce(e.browse_30d, 0) AS DOUBLE) AS browse_30d,
       CAST(coalesce(e.browse_90d, 0) AS DOUBLE) AS browse_90d,
       CAST(coalesce(e.carts_90d, 0) AS DOUBLE) AS carts_90d,
       CAST(coalesce(e.complaints_365d, 0) AS DOUBLE) AS complaints_365d,
       CAST(coalesce(e.consults_365d, 0) AS DOUBLE) AS consults_365d,
       CAST(coalesce(e.returns_365d, 0) AS DOUBLE) AS returns_365d,
       CAST(coalesce(date_diff('day', e.last_event, CAST(:cutoff AS TIMESTAMP)), 366) AS DOUBLE) AS days_since_event,
       CAST(date_sub('year', pop.birth_date, CAST(:cutoff AS DATE)) AS DOUBLE) AS age,
       pop.channel, pop.customer_type, pop.gender
FROM pop
JOIN o USING (customer_id)
LEFT JOIN e USING (customer_id)
WHERE o.orders > 0
ORDER BY pop.customer_id

-- name: churn_buyers_in_window
-- Customers with a purchase in [cutoff, cutoff + horizon): their label is "not churned".
SELECT DISTINCT customer_id
FROM orders
WHERE status IN ('paid', 'partially_refunded')
  AND order_time >= CAST(:cutoff AS TIMESTAMP)
  AND order_time < CAST(:cutoff AS TIMESTAMP) + to_days(CAST(:horizon_days AS INTEGER))

-- name: churn_window_counts
-- The training population as of a cutoff (live, registered before it, a purchase before it)
-- and how many of them churned (no purchase in [cutoff, cutoff + horizon)): checked before
-- any feature is computed, so that a too-short history gets a clear message.
WITH pop AS (
    SELECT DISTINCT o.customer_id
    FROM orders o
    JOIN customers c USING (customer_id)
    WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
      AND c.registered_at < CAST(:cutoff AS TIMESTAMP)
      AND o.status IN ('paid', 'partially_refunded')
      AND o.order_time < CAST(:cutoff AS TIMESTAMP)
),
buyers AS (
    SELECT DISTINCT customer_id
    FROM orders
    WHERE status IN ('paid', 'partially_refunded')
      AND order_time >= CAST(:cutoff AS TIMESTAMP)
      AND order_time < CAST(:cutoff AS TIMESTAMP) + to_days(CAST(:horizon_days AS INTEGER))
)
SELECT count(*) AS purchasers, count(*) FILTER (WHERE b.customer_id IS NULL) AS churned
FROM pop LEFT JOIN buyers b USING (customer_id)

-- name: churn_purchase_span
SELECT CAST(min(order_time) AS DATE) AS first_purchase, CAST(max(order_time) AS DATE) AS last_purchase
FROM orders WHERE status IN ('paid', 'partially_refunded')

-- name: churn_model_insert
INSERT INTO churn_models (trained_by, as_of, horizon_days, train_cutoff, eval_cutoff, n_train,
                          n_holdout, base_rate, auc, baseline_auc, precision_at_k,
                          baseline_precision_at_k, k_share, brier, metrics, model_blob)
VALUES (:trained_by, :as_of, :horizon_days, :train_cutoff, :eval_cutoff, :n_train, :n_holdout,
        :base_rate, :auc, :baseline_auc, :precision_at_k, :baseline_precision_at_k, :k_share,
        :brier, CAST(:metrics AS JSON), :model_blob)
RETURNING model_id

-- name: churn_models_all
SELECT model_id, trained_at, trained_by, as_of, horizon_days, train_cutoff, eval_cutoff, n_train,
       n_holdout, base_rate, auc, baseline_auc, precision_at_k, baseline_precision_at_k, k_share,
       brier, metrics
FROM churn_models ORDER BY model_id DESC

-- name: churn_model_blob
SELECT model_id, horizon_days, model_blob FROM churn_models WHERE model_id = :model_id

-- name: churn_latest_model_id
SELECT max(model_id) FROM churn_models
WHERE horizon_days = :horizon_days OR CAST(:horizon_days AS INTEGER) IS NULL

-- name: churn_scores_delete
DELETE FROM churn_scores

-- name: churn_scores_insert
INSERT INTO churn_scores (customer_id, model_id, as_of, probability, risk_tier, reasons)
SELECT customer_id, :model_id, CAST(:as_of AS DATE), probability, risk_tier, reasons
FROM churn_scores_batch

-- name: churn_scores_page
-- Top-N before the joins, as clv_top_customers (lib/marketing/churn.top_scores).
WITH top AS (
    SELECT * FROM churn_scores
    WHERE list_contains(CAST(:tiers AS VARCHAR[]), risk_tier)
    ORDER BY probability DESC, customer_id
    LIMIT CAST(:candidates AS BIGINT))
SELECT s.customer_id, c.source_record_id, c.full_name, s.probability, s.risk_tier, s.reasons,
       r.rfm_segment, r.monetary AS total_spend, r.recency_days, v.expected_value AS clv
FROM top s
JOIN customers c USING (customer_id)
LEFT JOIN customer_rfm r USING (customer_id)
LEFT JOIN clv_scores v USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL
ORDER BY s.probability DESC, s.customer_id
LIMIT :limit

-- name: churn_tier_summary
SELECT s.risk_tier, count(*) AS customers, avg(s.probability) AS avg_probability,
       sum(r.monetary) AS revenue_at_stake, max(s.as_of) AS as_of, max(s.model_id) AS model_id
FROM churn_scores s LEFT JOIN customer_rfm r USING (customer_id)
WHERE s.customer_id NOT IN (SELECT customer_id FROM customers WHERE deleted_at IS NOT NULL)
GROUP BY s.risk_tier

-- name: churn_scores_export
SELECT c.source, c.source_record_id, s.customer_id, s.probability, s.risk_tier,
       array_to_string(s.reasons, ';') AS reasons, s.as_of, s.model_id
FROM churn_scores s JOIN customers c USING (customer_id)
WHERE c.deleted_at IS NULL
ORDER BY s.customer_id

-- name: clv_summary
-- Per purchaser, as of cutoff (transactions = distinct purchase days, as in BG/NBD):
-- x = repeat purchase days, t_x = days from first to last purchase day, T = days from first
-- purchase day to the cutoff, m_x = mean value of the repeat purchase days (0 when x = 0).
WITH days AS (
    SELECT o.customer_id, CAST(o.order_time AS DATE) AS day, sum(o.amount - o.refund_amount) AS value
    FROM orders o
    JOIN customers c USING (customer_id)
    WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
      AND o.status IN ('paid', 'partially_refunded')
      AND o.order_time < CAST(:cutoff AS TIMESTAMP)
      AND hash(o.customer_id) % CAST(:sample_mod AS UBIGINT) < CAST(:sample_keep AS UBIGINT)
    GROUP BY ALL
),
ranked AS (
    SELECT *, min(day) OVER (PARTITION BY customer_id) AS first_day FROM days
)
SELECT customer_id,
       CAST(count(*) - 1 AS DOUBLE) AS x,
       CAST(date_diff('day', min(day), max(day)) AS DOUBLE) AS t_x,
       CAST(date_diff('day', min(day), CAST(CAST(:cutoff AS TIMESTAMP) AS DATE)) AS DOUBLE) AS T,
       CAST(coalesce(avg(value) FILTER (WHERE day > first_day), 0) AS DOUBLE) AS m_x
FROM ranked
GROUP BY customer_id
ORDER BY customer_id

-- name: clv_holdout_actuals
SELECT customer_id, CAST(count(DISTINCT CAST(order_time AS DATE)) AS DOUBLE) AS actual_purchases,
       CAST(sum(amount - refund_amount) AS DOUBLE) AS actual_value
FROM orders
WHERE status IN ('paid', 'partially_refunded')
  AND order_time >= CAST(:cutoff AS TIMESTAMP)
  AND order_time < CAST(:cutoff AS TIMESTAMP) + to_days(CAST(:horizon_days AS INTEGER))
GROUP BY customer_id

-- name: clv_model_insert
INSERT INTO clv_models (fitted_by, as_of, horizon_days, n_customers, bgnbd, gamma_gamma, backtest)
VALUES (:fitted_by, :as_of, :horizon_days, :n_customers, CAST(:bgnbd AS JSON),
        CAST(:gamma_gamma AS JSON), CAST(:backtest AS JSON))
RETURNING clv_model_id

-- name: clv_models_all
SELECT clv_model_id, fitted_at, fitted_by, as_of, horizon_days, n_customers, bgnbd, gamma_gamma, backtest
FROM clv_models ORDER BY clv_model_id DESC

-- name: clv_scores_delete
DELETE FROM clv_scores

-- name: clv_scores_insert
INSERT INTO clv_scores (customer_id, clv_model_id, as_of, horizon_days, p_alive,
                        expected_purchases, expected_avg_value, expected_value)
SELECT customer_id, :clv_model_id, CAST(:as_of AS DATE), :horizon_days, p_alive,
       expected_purchases, expected_avg_value, expected_value
FROM clv_scores_batch

-- name: clv_top_customers
-- The top :candidates scores first, then the joins (a million-row join before the top-N cost
-- 3x the CPU); lib/marketing/clv.top_customers asks again without that limit (NULL) when
-- merged or deleted customers among the candidates leave fewer than :limit rows.
WITH top AS (
    SELECT * FROM clv_scores ORDER BY expected_value DESC, customer_id LIMIT CAST(:candidates AS BIGINT))
SELECT v.customer_id, c.source_record_id, c.full_name, v.p_alive, v.expected_purchases,
       v.expected_avg_value, v.expected_value, r.rfm_segment
FROM top v JOIN customers c USING (customer_id) LEFT JOIN customer_rfm r USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL
ORDER BY v.expected_value DESC, v.customer_id
LIMIT :limit

-- name: clv_by_segment
SELECT coalesce(r.rfm_segment, '(not in RFM snapshot)') AS rfm_segment, count(*) AS customers,
       avg(v.expected_value) AS avg_clv, sum(v.expected_value) AS total_clv,
       avg(v.p_alive) AS avg_p_alive, avg(v.expected_purchases) AS avg_expected_purchases
FROM clv_scores v LEFT JOIN customer_rfm r USING (customer_id)
WHERE v.customer_id NOT IN (SELECT customer_id FROM customers WHERE deleted_at IS NOT NULL)
GROUP BY 1 ORDER BY total_clv DESC

-- name: clv_scores_export
SELECT c.source, c.source_record_id, v.customer_id, v.p_alive, v.expected_purchases,
       v.expected_avg_value, v.expected_value, v.as_of, v.horizon_days
FROM clv_scores v JOIN customers c USING (customer_id)
WHERE c.deleted_at IS NULL
ORDER BY v.customer_id

-- name: marketing_customer_count
SELECT count(*) FROM customers

-- name: customer_rfm_count
SELECT count(*) FROM customer_rfm
