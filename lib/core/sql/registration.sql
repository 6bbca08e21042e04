-- Registration dates that a source did not give (customers.registered_at NULL) are inferred
-- from the customer's first known activity: the earliest order (any status) or event. An
-- inferred date is marked (registered_inferred) and re-inferred after every load, because a
-- later file may bring an earlier order. A date given by a source is never touched.

-- name: registration_to_infer_count
SELECT count(*) FROM customers WHERE registered_at IS NULL OR registered_inferred

-- name: registration_first_activity
-- Fragment: the first order or event of each customer whose date is unknown or inferred.
(
    SELECT customer_id, min(first_at) AS first_activity
    FROM (
        SELECT customer_id, min(order_time) AS first_at FROM orders
        WHERE customer_id IN (SELECT customer_id FROM customers
                              WHERE registered_at IS NULL OR registered_inferred)
        GROUP BY customer_id
        UNION ALL
        SELECT customer_id, min(event_time) AS first_at FROM events
        WHERE customer_id IN (SELECT customer_id FROM customers
                              WHERE registered_at IS NULL OR registered_inferred)
        GROUP BY customer_id
    )
    GROUP BY customer_id
) AS f

-- name: registration_changes_count
-- How many rows infer_registration_dates would change (same fragment).
SELECT count(*)
FROM customers AS c, {{registration_first_activity}}
WHERE c.customer_id = f.customer_id
  AND (c.registered_at IS NULL OR c.registered_inferred)
  AND c.registered_at IS DISTINCT FROM f.first_activity

-- name: infer_registration_dates
UPDATE customers AS c
SET registered_at = f.first_activity, registered_inferred = TRUE
FROM {{registration_first_activity}}
WHERE c.customer_id = f.customer_id
  AND (c.registered_at IS NULL OR c.registered_inferred)
  AND c.registered_at IS DISTINCT FROM f.first_activity

-- name: registration_unknown_count
SELECT count(*) FROM customers
WHERE registered_at IS NULL AND merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: registration_inferred_count
SELECT count(*) FROM customers
WHERE registered_inferred AND merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
