-- Stewards: imports, quarantine, saved mappings. Registered frames: stw_keys, stw_rows,
-- stw_flags, stw_quarantine_rows (see lib/importer.py).

-- name: stw_import_start
INSERT INTO imports (kind, source, file_name, file_sha256, username, rows_total)
VALUES (:kind, :source, :file_name, :file_sha256, :username, :rows_total)
RETURNING import_id

-- name: stw_import_finish
UPDATE imports
SET rows_loaded = :rows_loaded, rows_unchanged = :rows_unchanged,
    rows_quarantined = :rows_quarantined, rows_flagged = :rows_flagged,
    finished_at = current_timestamp, status = 'done'
WHERE import_id = :import_id

-- name: stw_imports_recent
SELECT import_id, kind, source, file_name, username, started_at, finished_at, rows_total,
       rows_loaded, rows_unchanged, rows_quarantined, rows_flagged, status
FROM imports ORDER BY import_id DESC LIMIT :limit

-- name: stw_existing_customer_keys
-- One row holding the list: a re-import finds a million keys, and one value converts fast.
SELECT list(DISTINCT k.k) FROM stw_keys k
JOIN customers c ON c.source = :source AND c.source_record_id = k.k

-- name: stw_existing_order_keys
-- One row holding the list: a re-import finds a million keys, and one value converts fast.
SELECT list(DISTINCT k.k) FROM stw_keys k
JOIN orders o ON o.source = :source AND o.source_record_id = k.k

-- name: stw_existing_event_keys
-- One row holding the list: a re-import finds a million keys, and one value converts fast.
SELECT list(DISTINCT k.k) FROM stw_keys k
JOIN events e ON e.source = :source AND e.source_record_id = k.k

-- name: stw_resolve_customer_keys
SELECT k.row_no, coalesce(c.merged_into, c.customer_id) AS customer_id
FROM stw_keys k
JOIN customers c ON c.source = :source AND c.source_record_id = k.k
WHERE c.deleted_at IS NULL

-- name: stw_file_consent_changes
-- A customer file's yes/no consent columns, as changes to the consent in force: a yes where it
-- is not granted, a no where it is (merged records lead to the survivor; a grant is never
-- recorded for an erased customer). The last of a customer's rows in the file counts.
WITH said AS (
    SELECT r.row_no, c.customer_id, c.erased_at, r.channel, r.status
    FROM stw_rows r
    JOIN customers k ON k.source = :source AND k.source_record_id = r.customer_key
    JOIN customers c ON c.customer_id = coalesce(k.merged_into, k.customer_id)
    WHERE k.deleted_at IS NULL
), in_force AS (
    SELECT customer_id, channel, status FROM consents
    WHERE customer_id IN (SELECT customer_id FROM said)
    QUALIFY row_number() OVER (PARTITION BY customer_id, channel ORDER BY recorded_at DESC, consent_id DESC) = 1
)
SELECT s.row_no, s.customer_id, s.channel, s.status
FROM said s LEFT JOIN in_force f USING (customer_id, channel)
WHERE (s.status = 'granted' AND s.erased_at IS NULL AND f.status IS DISTINCT FROM 'granted')
   OR (s.status = 'withdrawn' AND f.status = 'granted')
QUALIFY row_number() OVER (PARTITION BY s.customer_id, s.channel ORDER BY s.row_no DESC) = 1

-- name: stw_resolve_customer_emails
-- Rows whose key is no customer key but an email (shop exports name the customer by email):
-- the live customers of the source with that address; `n` > 1 when it belongs to several.
SELECT k.row_no, min(coalesce(c.merged_into, c.customer_id)) AS customer_id,
       count(DISTINCT coalesce(c.merged_into, c.customer_id)) AS n
FROM stw_keys k
JOIN customers c ON c.source = :source AND lower(c.email) = lower(k.k)
WHERE c.deleted_at IS NULL AND k.k LIKE '%@%'
GROUP BY k.row_no

-- name: stw_reserve_customer_ids
-- Ids come from the sequence (never max()+n): two imports at once, or two lake processes,
-- must not hand out the same ids.
-- One row holding the list of ids (a million rows through SQLAlchemy take seconds).
SELECT list(customer_id ORDER BY customer_id)
FROM (SELECT nextval('customer_id_seq') AS customer_id FROM range(CAST(:n AS BIGINT)))

-- name: stw_insert_customers
INSERT INTO customers (customer_id, source, source_record_id, family_name, given_name, full_name,
    name_pinyin, gender, birth_date, mobile, email, id_number_enc, id_number_hash, id_number_last4,
    country, province, city, district, address, postcode, customer_type, company, industry,
    job_title, uscc, channel, registered_at, updated_at, raw_values, version)
SELECT r.customer_id, :source, r.source_record_id,
       r.family_name, r.given_name, r.full_name, r.name_pinyin, r.gender, r.birth_date, r.mobile,
       r.email, r.id_number_enc, r.id_number_hash, r.id_number_last4, r.country, r.province, r.city,
       r.district, r.address, r.postcode, r.customer_type, r.company, r.industry, r.job_title,
       r.uscc, r.channel, r.registered_at, current_timestamp, CAST(r.raw_values AS JSON), 1
FROM stw_rows r
ORDER BY r.row_no

-- name: stw_insert_import_flags
INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity, detail, import_id)
SELECT f.customer_id, 'import', 'import.' || f.field, f.field,
       CASE WHEN f.field IN ('mobile', 'email', 'id_number') THEN 'high' ELSE 'medium' END,
       CAST(f.detail AS JSON), :import_id
FROM stw_flags f

-- name: stw_insert_orders
INSERT INTO orders (order_id, customer_id, source, source_record_id, order_time, status, amount,
                    refund_amount, channel, category, item_count)
SELECT nextval('order_id_seq'),
       r.customer_id, :source, r.source_record_id, r.order_time, r.status,
       CAST(r.amount AS DECIMAL(12, 2)), CAST(coalesce(r.refund_amount, '0') AS DECIMAL(12, 2)),
       r.channel, r.category, r.item_count
FROM stw_rows r
ORDER BY r.row_no

-- name: stw_insert_events
INSERT INTO events (event_id, customer_id, event_type, event_time, channel, category, amount,
                    order_id, source, source_record_id, note)
SELECT nextval('event_id_seq'),
       r.customer_id, r.event_type, r.event_time, r.channel, r.category,
       CAST(r.amount AS DECIMAL(12, 2)), o.order_id, :source, r.source_record_id, r.note
FROM stw_rows r
LEFT JOIN (SELECT source_record_id, min(order_id) AS order_id FROM orders
           WHERE source = :source GROUP BY source_record_id) o
       ON o.source_record_id = r.order_key
ORDER BY r.row_no

-- name: stw_quarantine_count
SELECT count(*) FROM quarantine

-- name: stw_insert_quarantine
INSERT INTO quarantine (import_id, kind, source, source_record_id, row_no, raw, reasons)
SELECT :import_id, :kind, :source, q.source_record_id, q.row_no, CAST(q.raw AS JSON),
       CAST(q.reasons AS JSON)
FROM stw_quarantine_rows q
WHERE NOT EXISTS (
    -- the same content is waiting already: compared without ID ciphertexts (Fernet tokens
    -- differ on every encryption; the keyed hash beside them is the same for the same number)
    SELECT 1 FROM quarantine x
    WHERE x.kind = :kind AND x.source = :source
      AND regexp_replace(CAST(x.raw AS VARCHAR), '"enc": ?"[^"]*"', '', 'g')
          = regexp_replace(q.raw, '"enc": ?"[^"]*"', '', 'g'))

-- name: stw_quarantine_list
SELECT q.quarantine_id, q.import_id, q.kind, q.source, q.source_record_id, q.row_no,
       CAST(q.raw AS VARCHAR) AS raw, CAST(q.reasons AS VARCHAR) AS reasons, q.status,
       q.created_at, q.resolved_at, q.resolved_by
FROM quarantine q
WHERE q.status = :status
  AND (CAST(:source AS VARCHAR) IS NULL OR q.source = :source)
  AND (CAST(:kind AS VARCHAR) IS NULL OR q.kind = :kind)
ORDER BY q.quarantine_id
LIMIT :limit

-- name: stw_quarantine_by_id
SELECT quarantine_id, import_id, kind, source, source_record_id, row_no,
       CAST(raw AS VARCHAR) AS raw, CAST(reasons AS VARCHAR) AS reasons, status
FROM quarantine WHERE quarantine_id = :quarantine_id

-- name: stw_quarantine_resolve
UPDATE quarantine SET status = :status, resolved_at = current_timestamp, resolved_by = :username
WHERE quarantine_id = :quarantine_id AND status = 'open'

-- name: stw_quarantine_counts
SELECT status, count(*) AS n FROM quarantine GROUP BY status

-- name: stw_mapping_save
INSERT INTO import_mappings (name, kind, mapping, saved_by, saved_at)
VALUES (:name, :kind, CAST(:mapping AS JSON), :saved_by, current_timestamp)
ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, mapping = excluded.mapping,
    saved_by = excluded.saved_by, saved_at = excluded.saved_at

-- name: stw_mappings
SELECT name, CAST(mapping AS VARCHAR) AS mapping FROM import_mappings WHERE kind = :kind ORDER BY name
