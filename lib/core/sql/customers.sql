-- Customer search and the Customer 360 page (lib/customers.py). One customer's rows are cheap
-- to read because the demo loader and the importer store orders and events sorted by
-- customer_id: DuckDB skips every row group whose customer_id range misses the id.

-- name: c360_search
-- One page of live customers matching an exact search entry (customer id, mobile in E.164 or
-- email), with the number of matches. Names, pinyin and companies are searched through the
-- search index (search_match_page in search_index.sql); lib/dashboards/customers.parse_query
-- decides which readings apply. The id itself first, then by id.
SELECT customer_id, full_name, company, mobile, email, province, city, customer_type, channel,
       lifecycle_stage, registered_at, count(*) OVER () AS total
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL
  AND ((CAST(:cid AS BIGINT) IS NOT NULL AND customer_id = CAST(:cid AS BIGINT))
       OR (CAST(:mobile AS VARCHAR) IS NOT NULL AND mobile = CAST(:mobile AS VARCHAR))
       OR (CAST(:email AS VARCHAR) IS NOT NULL AND lower(email) = CAST(:email AS VARCHAR)))
ORDER BY (customer_id = CAST(:cid AS BIGINT)) DESC NULLS LAST, customer_id
LIMIT :limit OFFSET :offset

-- name: c360_profile
SELECT customer_id, source, source_record_id, family_name, given_name, full_name, name_pinyin,
       gender, birth_date, mobile, email, id_number_last4, country, province, city, district,
       address, postcode, customer_type, company, industry, job_title, uscc, channel,
       registered_at, registered_inferred, updated_at, verified_at, lifecycle_stage, churn_reason,
       CAST(raw_values AS VARCHAR) AS raw_values, version, merged_into, deleted_at, erased_at
FROM customers WHERE customer_id = :id

-- name: c360_details
-- Every part of the 360° page but the profile in ONE round trip: a query costs ~1 ms of fixed
-- overhead here (and ~5 ms of catalog lookups per table reference on a lake), while these scans
-- of one customer's rows cost ~0.2 ms each; scalar subqueries with list() were measured 3x
-- slower than this UNION ALL.
-- Each branch fills the generic columns (kind, time, id, s1..s5, n1..n3, i1..i3, flag, t2, t3);
-- lib/customers.DETAIL_COLUMNS names them per kind.
-- Tags, consents, quality flags and the audit log are read through indexes (migrations 0009,
-- 0010); orders and events through their sort order. The audit log and the quality flags are
-- read in materialised CTEs filtered on the indexed column alone: DuckDB uses an index scan
-- only for a plain equality on it.
WITH customer_flags AS MATERIALIZED (
    SELECT created_at, flag_id, rule_id, field, severity, CAST(detail AS VARCHAR) AS detail, status
    FROM quality_flags WHERE customer_id = :id),
record_history AS MATERIALIZED (
    SELECT occurred_at, audit_id, username, entity, action, CAST(before AS VARCHAR) AS before,
           CAST(after AS VARCHAR) AS after, CAST(detail AS VARCHAR) AS detail
    FROM audit_log WHERE entity_id = CAST(:id AS VARCHAR))
SELECT 'tag' AS kind, created_at AS time, CAST(NULL AS BIGINT) AS id, tag AS s1, created_by AS s2,
       CAST(NULL AS VARCHAR) AS s3, CAST(NULL AS VARCHAR) AS s4, CAST(NULL AS VARCHAR) AS s5,
       CAST(NULL AS DECIMAL(12, 2)) AS n1, CAST(NULL AS DECIMAL(12, 2)) AS n2,
       CAST(NULL AS INTEGER) AS i1, CAST(NULL AS BOOLEAN) AS flag, CAST(NULL AS INTEGER) AS i2,
       CAST(NULL AS INTEGER) AS i3, CAST(NULL AS DECIMAL(14, 2)) AS n3, CAST(NULL AS TIMESTAMP) AS t2,
       CAST(NULL AS TIMESTAMP) AS t3
FROM tags WHERE customer_id = :id
UNION ALL
SELECT 'consent', recorded_at, consent_id, channel, status, source, recorded_by, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL
FROM consents WHERE customer_id = :id
UNION ALL
SELECT 'flag', created_at, flag_id, rule_id, field, severity, detail, NULL, NULL, NULL,
       CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, NULL, NULL, NULL, NULL, NULL, NULL
FROM customer_flags WHERE status = 'open'
UNION ALL
SELECT * FROM (
    SELECT 'history', occurred_at, audit_id, username, action, before, after, detail,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM record_history
    WHERE entity = 'customer' AND action <> 'customer.view'
    ORDER BY occurred_at DESC, audit_id DESC
    LIMIT :history_limit)
UNION ALL
-- orders: the newest :orders_limit, each carrying the summary of ALL the customer's orders
-- (window aggregates: one scan, no separate summary branch): kept orders (i2), net revenue (n3),
-- refunded orders (i3), first (t2) and last (t3) kept order
SELECT 'order', order_time, order_id, status, channel, category, source, NULL, amount,
       refund_amount, item_count, NULL,
       CAST(count(*) FILTER (WHERE status IN ('paid', 'partially_refunded')) OVER () AS INTEGER),
       CAST(count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded')) OVER () AS INTEGER),
       coalesce(sum(amount - refund_amount) FILTER (WHERE status <> 'cancelled') OVER (), 0),
       min(order_time) FILTER (WHERE status IN ('paid', 'partially_refunded')) OVER (),
       max(order_time) FILTER (WHERE status IN ('paid', 'partially_refunded')) OVER ()
FROM orders WHERE customer_id = :id
QUALIFY row_number() OVER (ORDER BY order_time DESC, order_id DESC) <= :orders_limit
UNION ALL
-- events: the newest :events_limit for the timeline (`flag`), plus every complaint and consult
SELECT * FROM (
    SELECT 'event', event_time, order_id, event_type, channel, category, note, NULL, amount, NULL, NULL,
           row_number() OVER (ORDER BY event_time DESC, event_id DESC) <= :events_limit AS flag,
           NULL, NULL, NULL, NULL, NULL
    FROM events WHERE customer_id = :id
    QUALIFY flag OR event_type IN ('complaint', 'consult'))
