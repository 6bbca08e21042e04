-- Stewards: customer edits (versioned), flags and the review queue.

-- name: stw_customer_by_id
SELECT customer_id, source, source_record_id, family_name, given_name, full_name, name_pinyin,
       gender, birth_date, mobile, email, id_number_enc, id_number_hash, id_number_last4, country,
       province, city, district, address, postcode, customer_type, company, industry, job_title,
       uscc, channel, registered_at, updated_at, verified_at, lifecycle_stage,
       CAST(raw_values AS VARCHAR) AS raw_values, version, merged_into, deleted_at, erased_at
FROM customers WHERE customer_id = :customer_id

-- name: stw_customer_update
UPDATE customers SET
    family_name = :family_name, given_name = :given_name, full_name = :full_name,
    name_pinyin = :name_pinyin, gender = :gender, birth_date = CAST(:birth_date AS DATE),
    mobile = :mobile, email = :email, id_number_enc = :id_number_enc,
    id_number_hash = :id_number_hash, id_number_last4 = :id_number_last4,
    country = coalesce(:country, 'CN'), province = :province, city = :city, district = :district,
    address = :address, postcode = :postcode, customer_type = coalesce(:customer_type, 'B2C'),
    company = :company, industry = :industry, job_title = :job_title, uscc = :uscc,
    raw_values = CAST(:raw_values AS JSON), updated_at = current_timestamp,
    version = version + 1
WHERE customer_id = :customer_id AND version = :expected_version

-- name: stw_customer_verify
UPDATE customers SET verified_at = current_timestamp, version = version + 1
WHERE customer_id = :customer_id AND version = :expected_version

-- name: stw_audit_entry
SELECT audit_id, occurred_at, username, action, entity, entity_id,
       CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after,
       CAST(detail AS VARCHAR) AS detail
FROM audit_log WHERE audit_id = :audit_id

-- name: stw_audit_undo_of
SELECT count(*) FROM audit_log
WHERE action = 'customer.update_undo' AND json_extract_string(detail, '$.undo_of') = CAST(:audit_id AS VARCHAR)

-- name: stw_customer_edit_history
SELECT audit_id, occurred_at, username, action, CAST(before AS VARCHAR) AS before,
       CAST(after AS VARCHAR) AS after, CAST(detail AS VARCHAR) AS detail
FROM audit_log
WHERE entity = 'customer' AND entity_id = CAST(:customer_id AS VARCHAR)
  AND action IN ('customer.update', 'customer.update_undo', 'customer.verify')
ORDER BY audit_id DESC LIMIT :limit

-- name: stw_flag_by_id
SELECT flag_id, customer_id, kind, rule_id, field, severity, CAST(detail AS VARCHAR) AS detail,
       pair_id, status, created_at, resolved_at, resolved_by, reason, decided_version
FROM quality_flags WHERE flag_id = :flag_id

-- name: stw_flag_set_status
UPDATE quality_flags SET status = :status, resolved_at = current_timestamp,
       resolved_by = :username, reason = :reason, decided_version = :version
WHERE flag_id = :flag_id AND status = 'open'

-- name: stw_flags_resolve_import_fields
UPDATE quality_flags SET status = 'resolved', resolved_at = current_timestamp, resolved_by = :username
WHERE customer_id = :customer_id AND kind = 'import' AND status = 'open'
  AND list_contains(:fields, field)

-- name: stw_flags_verify_open
UPDATE quality_flags SET status = 'verified', resolved_at = current_timestamp,
       resolved_by = :username, decided_version = :version
WHERE customer_id = :customer_id AND status = 'open' AND kind IN ('rule', 'import')

-- name: stw_review_items
-- The worklist: open flags (failed rules, values rejected at import, stale records) and open
-- duplicate candidates, of live customers, most severe first.
WITH items AS (
    SELECT 'flag' AS item_kind, f.flag_id AS item_id,
           CASE WHEN f.kind = 'import' THEN 'import'
                WHEN f.rule_id = 'not_stale' THEN 'stale' ELSE 'rule' END AS category,
           f.customer_id, CAST(NULL AS BIGINT) AS other_customer_id, f.rule_id, f.field,
           f.severity, f.created_at, CAST(NULL AS DOUBLE) AS probability
    FROM quality_flags f WHERE f.status = 'open' AND f.kind IN ('rule', 'import')
    UNION ALL
    SELECT 'pair', d.pair_id, 'duplicate', d.customer_id_l, d.customer_id_r, 'duplicate', 'record',
           CASE WHEN d.match_probability >= 0.99 THEN 'high'
                WHEN d.match_probability >= 0.9 THEN 'medium' ELSE 'low' END,
           d.created_at, d.match_probability
    FROM dedup_candidates d WHERE d.status = 'open'
)
SELECT i.item_kind, i.item_id, i.category, i.severity, i.rule_id, i.field, i.customer_id,
       i.other_customer_id, i.probability, c.source, c.source_record_id, c.channel, c.full_name,
       i.created_at, c.version
FROM items i JOIN customers c ON c.customer_id = i.customer_id
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL
  AND (len(CAST(:categories AS VARCHAR[])) = 0 OR list_contains(:categories, i.category))
  AND (len(CAST(:severities AS VARCHAR[])) = 0 OR list_contains(:severities, i.severity))
  AND (CAST(:field AS VARCHAR) IS NULL OR i.field = :field)
  AND (CAST(:source AS VARCHAR) IS NULL OR c.source = :source)
  AND (CAST(:rule_id AS VARCHAR) IS NULL OR i.rule_id = :rule_id)
ORDER BY CASE i.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
         CASE i.category WHEN 'rule' THEN 0 WHEN 'import' THEN 1 WHEN 'duplicate' THEN 2 ELSE 3 END,
         coalesce(i.probability, 0) DESC, i.created_at, i.item_id
LIMIT :limit OFFSET :offset

-- name: stw_review_counts
WITH items AS (
    SELECT CASE WHEN f.kind = 'import' THEN 'import'
                WHEN f.rule_id = 'not_stale' THEN 'stale' ELSE 'rule' END AS category,
           f.severity, f.customer_id
    FROM quality_flags f WHERE f.status = 'open' AND f.kind IN ('rule', 'import')
    UNION ALL
    SELECT 'duplicate',
           CASE WHEN d.match_probability >= 0.99 THEN 'high'
                WHEN d.match_probability >= 0.9 THEN 'medium' ELSE 'low' END,
           d.customer_id_l
    FROM dedup_candidates d WHERE d.status = 'open'
)
SELECT i.category, i.severity, count(*) AS n
FROM items i JOIN customers c ON c.customer_id = i.customer_id
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL
GROUP BY ALL ORDER BY ALL

-- name: stw_review_sources
SELECT DISTINCT source FROM customers ORDER BY source

-- name: stw_edit_values_insert
-- The exact values of one edit, for undo (the audit entry holds them masked).
INSERT INTO customer_edit_values (customer_id, version, before, after)
VALUES (:customer_id, :version, CAST(:before AS JSON), CAST(:after AS JSON))
ON CONFLICT (customer_id, version) DO UPDATE SET before = excluded.before, after = excluded.after

-- name: stw_edit_values
SELECT CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after
FROM customer_edit_values WHERE customer_id = :customer_id AND version = :version
