-- Stewards: customers added by hand (the "New customer" form), likely duplicates shown before a
-- save, soft delete and restore (lib/stewardship/records.py).

-- name: rec_insert_customer
-- One customer typed in by a steward: source 'manual', its record key 'M<id>', registered now.
INSERT INTO customers (customer_id, source, source_record_id, family_name, given_name, full_name,
    name_pinyin, gender, birth_date, mobile, email, id_number_enc, id_number_hash, id_number_last4,
    country, province, city, district, address, postcode, customer_type, company, industry,
    job_title, uscc, channel, registered_at, registered_inferred, updated_at, raw_values, version)
VALUES (:customer_id, :source, :source_record_id, :family_name, :given_name, :full_name,
    :name_pinyin, :gender, CAST(:birth_date AS DATE), :mobile, :email, :id_number_enc,
    :id_number_hash, :id_number_last4, coalesce(:country, 'CN'), :province, :city, :district,
    :address, :postcode, coalesce(:customer_type, 'B2C'), :company, :industry, :job_title, :uscc,
    :channel, current_timestamp, false, current_timestamp, NULL, 1)

-- name: rec_insert_entry_flag
-- A field the entry rules require with action 'flag' was left empty: the record loads flagged,
-- exactly like an imported row (kind 'import', rule import.<field>).
INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity, detail)
VALUES (:customer_id, 'import', 'import.' || :field, :field,
        CASE WHEN :field IN ('mobile', 'email', 'id_number', 'contact') THEN 'high' ELSE 'medium' END,
        CAST(:detail AS JSON))

-- name: rec_likely_duplicates
-- Live customers that share a key the duplicate matcher blocks on: the same mobile, e-mail or
-- resident ID (keyed hash), the same name (characters or pinyin) and birth date, or the same
-- pinyin name in the same city. `matched` lists which keys agree.
SELECT customer_id, full_name, mobile, email, birth_date, city, id_number_last4, source,
       list_filter([
           CASE WHEN CAST(:mobile AS VARCHAR) IS NOT NULL AND mobile = CAST(:mobile AS VARCHAR) THEN 'mobile' END,
           CASE WHEN CAST(:email AS VARCHAR) IS NOT NULL AND lower(email) = lower(CAST(:email AS VARCHAR)) THEN 'email' END,
           CASE WHEN CAST(:id_hash AS VARCHAR) IS NOT NULL AND id_number_hash = CAST(:id_hash AS VARCHAR) THEN 'id_number' END,
           CASE WHEN CAST(:birth_date AS DATE) IS NOT NULL AND birth_date = CAST(:birth_date AS DATE)
                 AND (full_name = CAST(:full_name AS VARCHAR)
                      OR replace(split_part(name_pinyin, '|', 1), ' ', '') = CAST(:py AS VARCHAR))
                THEN 'name_birth_date' END,
           CASE WHEN CAST(:city AS VARCHAR) IS NOT NULL AND city = CAST(:city AS VARCHAR)
                 AND replace(split_part(name_pinyin, '|', 1), ' ', '') = CAST(:py AS VARCHAR)
                THEN 'name_city' END
       ], x -> x IS NOT NULL) AS matched
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND customer_id <> coalesce(CAST(:exclude_id AS BIGINT), -1)
  AND ((CAST(:mobile AS VARCHAR) IS NOT NULL AND mobile = CAST(:mobile AS VARCHAR))
       OR (CAST(:email AS VARCHAR) IS NOT NULL AND lower(email) = lower(CAST(:email AS VARCHAR)))
       OR (CAST(:id_hash AS VARCHAR) IS NOT NULL AND id_number_hash = CAST(:id_hash AS VARCHAR))
       OR (CAST(:birth_date AS DATE) IS NOT NULL AND birth_date = CAST(:birth_date AS DATE)
           AND (full_name = CAST(:full_name AS VARCHAR)
                OR replace(split_part(name_pinyin, '|', 1), ' ', '') = CAST(:py AS VARCHAR)))
       OR (CAST(:city AS VARCHAR) IS NOT NULL AND city = CAST(:city AS VARCHAR)
           AND replace(split_part(name_pinyin, '|', 1), ' ', '') = CAST(:py AS VARCHAR)))
ORDER BY len(matched) DESC, customer_id
LIMIT 10

-- name: rec_soft_delete
UPDATE customers SET deleted_at = current_timestamp, updated_at = current_timestamp, version = version + 1
WHERE customer_id = :customer_id AND version = :expected_version AND deleted_at IS NULL
  AND merged_into IS NULL

-- name: rec_restore
UPDATE customers SET deleted_at = NULL, updated_at = current_timestamp, version = version + 1
WHERE customer_id = :customer_id AND version = :expected_version AND deleted_at IS NOT NULL

-- name: rec_customer_state
SELECT customer_id, version, merged_into, deleted_at, erased_at FROM customers
WHERE customer_id = :customer_id

-- name: rec_last_deletion
-- Who deleted the record, when and why (the reason is kept in the audit entry only).
SELECT occurred_at, username, json_extract_string(detail, '$.reason') AS reason
FROM audit_log
WHERE entity = 'customer' AND entity_id = CAST(:customer_id AS VARCHAR) AND action = 'customer.delete'
ORDER BY audit_id DESC LIMIT 1

-- name: rec_recently_deleted
-- Deleted customers, newest deletion first, with who deleted them and why (search leaves them
-- out; stewards open them by id to restore).
SELECT c.customer_id, c.full_name, c.deleted_at, a.username AS deleted_by,
       json_extract_string(a.detail, '$.reason') AS reason
FROM customers c
LEFT JOIN (SELECT entity_id, username, detail FROM audit_log
           WHERE entity = 'customer' AND action = 'customer.delete'
           QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY audit_id DESC) = 1) a
       ON a.entity_id = CAST(c.customer_id AS VARCHAR)
WHERE c.deleted_at IS NOT NULL AND c.merged_into IS NULL
ORDER BY c.deleted_at DESC, c.customer_id
LIMIT :limit
