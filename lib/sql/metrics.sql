-- Metric queries. Time windows are half-open: [since, as_of + 1 day).

-- name: home_kpis
WITH live AS (
    SELECT customer_id, registered_at FROM customers
    WHERE merged_into IS NULL AND deleted_at IS NULL
)
SELECT
    (SELECT count(*) FROM live) AS customers,
    (SELECT count(*) FROM live
      WHERE registered_at >= CAST(:month_start AS DATE)
        AND registered_at < CAST(:as_of AS DATE) + INTERVAL 1 DAY) AS new_this_month,
    (SELECT count(DISTINCT e.customer_id) FROM events e JOIN live USING (customer_id)
      WHERE e.event_time >= CAST(:active_since AS DATE)
        AND e.event_time < CAST(:as_of AS DATE) + INTERVAL 1 DAY) AS active_customers,
    (SELECT coalesce(sum(o.amount - o.refund_amount), 0) FROM orders o
      WHERE o.status <> 'cancelled'
        AND o.order_time >= CAST(:revenue_since AS DATE)
        AND o.order_time < CAST(:as_of AS DATE) + INTERVAL 1 DAY) AS revenue_12m
