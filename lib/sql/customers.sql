-- Customer search and the Customer 360 page (lib/customers.py). One customer's rows are cheap
-- to read because the demo loader and the importer store orders and events sorted by
-- customer_id: DuckDB skips every row group whose customer_id range misses the id.

-- name: c360_search_count
SELECT count(*) FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL
  AND ((CAST(:cid AS BIGINT) IS NOT NULL AND customer_id = CAST(:cid AS BIGINT))
       OR (CAST(:mobile AS VARCHAR) IS NOT NULL AND mobile = CAST(:mobile AS VARCHAR))
       OR (CAST(:email AS VARCHAR) IS NOT NULL AND lower(email) = CAST(:email AS VARCHAR))
       OR (CAST(:text AS VARCHAR) IS NOT NULL
           AND (contains(lower(full_name), CAST(:text AS VARCHAR))
                OR contains(name_pinyin, CAST(:text AS VARCHAR))
                OR contains(replace(name_pinyin, ' ', ''), CAST(:compact AS VARCHAR))
                OR contains(lower(company), CAST(:text AS VARCHAR)))))

-- name: c360_search
SELECT customer_id, full_name, company, mobile, email, province, city, customer_type, channel,
       lifecycle_stage, registered_at
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL
  AND ((CAST(:cid AS BIGINT) IS NOT NULL AND customer_id = CAST(:cid AS BIGINT))
       OR (CAST(:mobile AS VARCHAR) IS NOT NULL AND mobile = CAST(:mobile AS VARCHAR))
       OR (CAST(:email AS VARCHAR) IS NOT NULL AND lower(email) = CAST(:email AS VARCHAR))
       OR (CAST(:text AS VARCHAR) IS NOT NULL
           AND (contains(lower(full_name), CAST(:text AS VARCHAR))
                OR contains(name_pinyin, CAST(:text AS VARCHAR))
                OR contains(replace(name_pinyin, ' ', ''), CAST(:compact AS VARCHAR))
                OR contains(lower(company), CAST(:text AS VARCHAR)))))
ORDER BY (customer_id = CAST(:cid AS BIGINT)) DESC NULLS LAST, customer_id
LIMIT :limit OFFSET :offset

-- name: c360_profile
SELECT customer_id, source, source_record_id, family_name, given_name, full_name, name_pinyin,
       gender, birth_date, mobile, email, id_number_last4, country, province, city, district,
       address, postcode, customer_type, company, industry, job_title, uscc, channel,
       registered_at, updated_at, verified_at, lifecycle_stage, churn_reason,
       CAST(raw_values AS VARCHAR) AS raw_values, version, merged_into, deleted_at, erased_at
FROM customers WHERE customer_id = :id

-- name: c360_summary
SELECT count(*) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS kept_orders,
       coalesce(sum(amount - refund_amount) FILTER (WHERE status <> 'cancelled'), 0) AS net_revenue,
       count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded')) AS refunded_orders,
       min(order_time) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS first_order,
       max(order_time) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS last_order
FROM orders WHERE customer_id = :id

-- name: c360_tags
SELECT tag, created_by, created_at FROM tags WHERE customer_id = :id ORDER BY tag

-- name: c360_consents
SELECT channel, status, source, recorded_at, recorded_by,
       row_number() OVER (PARTITION BY channel ORDER BY recorded_at DESC, consent_id DESC) = 1 AS current
FROM consents WHERE customer_id = :id
ORDER BY channel, recorded_at DESC

-- name: c360_orders
SELECT order_id, order_time, status, amount, refund_amount, channel, category, item_count, source
FROM orders WHERE customer_id = :id
ORDER BY order_time DESC, order_id DESC
LIMIT :limit

-- name: c360_events
SELECT event_time, event_type, channel, category, amount, order_id
FROM events WHERE customer_id = :id
ORDER BY event_time DESC
LIMIT :limit

-- name: c360_notes
SELECT event_time, event_type, channel, note
FROM events WHERE customer_id = :id AND event_type IN ('complaint', 'consult')
ORDER BY event_time DESC

-- name: c360_history
SELECT occurred_at, username, action, CAST(before AS VARCHAR) AS before,
       CAST(after AS VARCHAR) AS after, CAST(detail AS VARCHAR) AS detail
FROM audit_log
WHERE entity = 'customer' AND entity_id = CAST(:id AS VARCHAR) AND action <> 'customer.view'
ORDER BY occurred_at DESC, audit_id DESC
LIMIT :limit

-- name: c360_open_flags
SELECT flag_id, kind, rule_id, field, severity, CAST(detail AS VARCHAR) AS detail, created_at
FROM quality_flags WHERE customer_id = :id AND status = 'open'
ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, created_at
