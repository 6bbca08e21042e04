-- Named queries of the admin area: users and the access review, audit trail search,
-- privacy (reveal, key rotation, consent, data-subject export and erasure).

-- ================================================================ users

-- name: admin_user_set_roles
UPDATE app_users SET roles = :roles WHERE username = :username

-- name: admin_user_set_disabled
UPDATE app_users SET disabled = :disabled WHERE username = :username

-- name: admin_user_set_password
UPDATE app_users
SET password_hash = :password_hash, password_changed_at = current_timestamp,
    failed_attempts = 0, locked_until = NULL
WHERE username = :username

-- name: admin_user_unlock
UPDATE app_users SET failed_attempts = 0, locked_until = NULL WHERE username = :username

-- name: admin_enabled_admins
SELECT count(*) FROM app_users WHERE NOT disabled AND list_contains(roles, 'admin')

-- name: admin_access_review
-- Days inactive count from the last sign of life: activity, else login, else account creation
-- (an account that was created and never used is the classic dormant account).
SELECT username, display_name, roles, disabled, last_login, last_activity,
       date_diff('day', coalesce(last_activity, last_login, created_at), CAST(:now AS TIMESTAMP))
           AS days_inactive,
       NOT disabled
           AND date_diff('day', coalesce(last_activity, last_login, created_at),
                         CAST(:now AS TIMESTAMP)) >= :dormant_days AS dormant,
       -- throttled from some client after failed logins (lib/auth.py; the account itself stays usable)
       EXISTS (SELECT 1 FROM login_throttle t WHERE t.username = app_users.username
               AND t.locked_until > CAST(:now AS TIMESTAMP)) AS locked
FROM app_users
ORDER BY dormant DESC, days_inactive DESC, username

-- ================================================================ audit trail

-- name: admin_audit_search
SELECT audit_id, occurred_at, username, roles, action, entity, entity_id,
       CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after,
       CAST(detail AS VARCHAR) AS detail
FROM audit_log
WHERE (CAST(:username AS VARCHAR) IS NULL OR username = :username)
  AND (CAST(:action AS VARCHAR) IS NULL OR action = :action)
  AND (CAST(:entity AS VARCHAR) IS NULL OR entity = :entity)
  AND (CAST(:entity_id AS VARCHAR) IS NULL OR entity_id = :entity_id
       OR list_contains(string_split(entity_id, ','), :entity_id))
  AND (CAST(:start AS TIMESTAMP) IS NULL OR occurred_at >= CAST(:start AS TIMESTAMP))
  AND (CAST(:end AS TIMESTAMP) IS NULL OR occurred_at < CAST(:end AS TIMESTAMP))
ORDER BY audit_id DESC
LIMIT :limit OFFSET :offset

-- name: admin_audit_count
SELECT count(*)
FROM audit_log
WHERE (CAST(:username AS VARCHAR) IS NULL OR username = :username)
  AND (CAST(:action AS VARCHAR) IS NULL OR action = :action)
  AND (CAST(:entity AS VARCHAR) IS NULL OR entity = :entity)
  AND (CAST(:entity_id AS VARCHAR) IS NULL OR entity_id = :entity_id
       OR list_contains(string_split(entity_id, ','), :entity_id))
  AND (CAST(:start AS TIMESTAMP) IS NULL OR occurred_at >= CAST(:start AS TIMESTAMP))
  AND (CAST(:end AS TIMESTAMP) IS NULL OR occurred_at < CAST(:end AS TIMESTAMP))

-- name: admin_audit_choices
SELECT 'action' AS kind, action AS value FROM audit_log GROUP BY action
UNION ALL
SELECT 'username', username FROM audit_log GROUP BY username
UNION ALL
SELECT 'entity', entity FROM audit_log WHERE entity IS NOT NULL GROUP BY entity
ORDER BY kind, value

-- ================================================================ privacy: reveal and keys

-- name: privacy_id_token
SELECT customer_id, id_number_enc, erased_at FROM customers WHERE customer_id = :customer_id

-- name: privacy_token_batch
-- Keyset pagination: each batch starts after the last id of the previous one, so rows that
-- change meanwhile are neither skipped nor visited twice.
SELECT customer_id, id_number_enc
FROM customers
WHERE id_number_enc IS NOT NULL AND customer_id > :after
ORDER BY customer_id
LIMIT :batch_size

-- name: privacy_apply_rotation
-- Compare-and-set on the old token: a row edited since the batch was read keeps the edit
-- (already written under the newest key) instead of getting the stale value back.
UPDATE customers
SET id_number_enc = r.new_token
FROM rotation_batch AS r
WHERE customers.customer_id = r.customer_id AND customers.id_number_enc = r.old_token

-- ================================================================ consent

-- name: privacy_subject_summary
SELECT customer_id, full_name, mobile, email, id_number_last4, province, city, registered_at,
       version, merged_into, erased_at,
       (SELECT count(*) FROM orders o WHERE o.customer_id = c.customer_id) AS orders
FROM customers AS c WHERE customer_id = :customer_id

-- name: privacy_customer_exists
SELECT customer_id, version, erased_at FROM customers WHERE customer_id = :customer_id

-- name: consent_insert
INSERT INTO consents (customer_id, channel, status, source, recorded_at, recorded_by)
VALUES (:customer_id, :channel, :status, :source, CAST(:recorded_at AS TIMESTAMP), :recorded_by)

-- name: consent_current_for_customer
SELECT channel, status, source, recorded_at, recorded_by
FROM consent_current WHERE customer_id = :customer_id ORDER BY channel

-- name: consent_history_for_customer
SELECT consent_id, channel, status, source, recorded_at, recorded_by
FROM consents WHERE customer_id = :customer_id
ORDER BY recorded_at DESC, consent_id DESC

-- name: consent_contactable
-- Customers whose latest consent on the channel is 'granted' (withdrawals count at once).
SELECT customer_id FROM consent_current
WHERE channel = :channel AND status = 'granted'
  AND list_contains(CAST(:customer_ids AS BIGINT[]), customer_id)

-- ================================================================ data-subject requests

-- name: subject_key_columns
-- Every column of every base table: privacy.py keeps those that point at a customer, so the
-- export follows the schema and tables added by later migrations are included unchanged.
SELECT c.table_name, c.column_name
FROM duckdb_columns() AS c
JOIN duckdb_tables() AS t
  ON t.database_name = c.database_name AND t.schema_name = c.schema_name
 AND t.table_name = c.table_name
WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT t.temporary
ORDER BY c.table_name, c.column_index

-- name: subject_audit_entries
SELECT audit_id, occurred_at, username, roles, action, entity, entity_id,
       CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after,
       CAST(detail AS VARCHAR) AS detail
FROM audit_log
WHERE entity = 'customer'
  AND (entity_id = :entity_id OR list_contains(string_split(entity_id, ','), :entity_id))
ORDER BY audit_id

-- name: subject_quarantine
SELECT quarantine_id, import_id, kind, source, source_record_id, row_no,
       CAST(raw AS VARCHAR) AS raw, CAST(reasons AS VARCHAR) AS reasons, status, created_at
FROM quarantine
WHERE source = :source AND source_record_id = :source_record_id
ORDER BY quarantine_id

-- name: erase_targets
-- Every record of the person: from the given record up to the survivor it was merged into
-- (merges may chain), then every record merged into that survivor, at any depth. One person,
-- one erasure, whichever of their records is named.
WITH RECURSIVE up(id, depth) AS (
    SELECT CAST(:customer_id AS BIGINT), 0
    UNION ALL
    SELECT c.merged_into, up.depth + 1 FROM customers c JOIN up ON c.customer_id = up.id
    WHERE c.merged_into IS NOT NULL AND up.depth < 50),
root AS (SELECT id FROM up ORDER BY depth DESC LIMIT 1),
down(id, depth) AS (
    SELECT id, 0 FROM root
    UNION ALL
    SELECT c.customer_id, down.depth + 1 FROM customers c JOIN down ON c.merged_into = down.id
    WHERE down.depth < 50)
SELECT customer_id, source, source_record_id, version, erased_at,
       family_name, given_name, full_name, name_pinyin, birth_date, mobile, email,
       id_number_enc, id_number_hash, id_number_last4, address, postcode, district, company,
       job_title, uscc, raw_values
FROM customers
WHERE customer_id IN (SELECT id FROM down)
ORDER BY customer_id

-- name: erase_customer_fields
-- Direct identifiers are removed; coarse attributes that dashboards aggregate (gender,
-- province, city, channel, type, registration date, lifecycle) stay, as do orders and events,
-- so every count and revenue total is unchanged.
UPDATE customers
SET family_name = NULL, given_name = NULL, full_name = :placeholder, name_pinyin = NULL,
    birth_date = NULL, mobile = NULL, email = NULL,
    id_number_enc = NULL, id_number_hash = NULL, id_number_last4 = NULL,
    address = NULL, postcode = NULL, district = NULL,
    company = NULL, job_title = NULL, uscc = NULL, raw_values = NULL,
    erased_at = CAST(:now AS TIMESTAMP), updated_at = CAST(:now AS TIMESTAMP),
    version = version + 1
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id)

-- The erase_* queries below are run by lib/privacy.erase_customer, one per entry of
-- lib/privacy.ERASURE_REGISTRY (every table and column that can hold a person's data); each
-- takes the ids of the person's records (:ids) and returns nothing but a row count.

-- name: erase_event_notes
UPDATE events SET note = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id) AND note IS NOT NULL

-- name: erase_quarantine_raw
-- Rows quarantined from the person's source records (by their source keys, which erasure keeps).
UPDATE quarantine SET raw = CAST('{"erased": true}' AS JSON)
WHERE (source, source_record_id) IN (
    SELECT source, source_record_id FROM customers WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id))
  AND CAST(raw AS VARCHAR) <> '{"erased": true}'

-- name: erase_merge_snapshots
-- Both records of every merge the person took part in, as they were before it.
UPDATE merge_customer_snapshots
SET family_name = NULL, given_name = NULL, full_name = :placeholder, name_pinyin = NULL,
    birth_date = NULL, mobile = NULL, email = NULL,
    id_number_enc = NULL, id_number_hash = NULL, id_number_last4 = NULL,
    address = NULL, postcode = NULL, district = NULL,
    company = NULL, job_title = NULL, uscc = NULL, raw_values = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id)

-- name: erase_flag_details
-- A flag's detail holds the rejected raw value; a steward's reason is free text.
UPDATE quality_flags SET detail = NULL, reason = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id) AND (detail IS NOT NULL OR reason IS NOT NULL)

-- name: erase_edit_values
DELETE FROM customer_edit_values WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id)

-- ================================================================ backups

-- name: backup_audit_since
-- Audit entries written since a snapshot (read while the app runs, for backup_carry_audit).
SELECT audit_id, occurred_at, username, roles, action, entity, entity_id,
       CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after,
       CAST(detail AS VARCHAR) AS detail
FROM audit_log
WHERE CAST(:since AS TIMESTAMP) IS NULL OR occurred_at >= CAST(:since AS TIMESTAMP)
ORDER BY audit_id

-- name: backup_carry_audit
-- Run on the staged snapshot file while the app runs; `live_audit_log` is the frame read with
-- backup_audit_since. Entries written since the snapshot ($since: the newest entry it holds, or
-- the year 1 when it holds none) go into the staged file, so the trail of who saw and changed
-- what survives going back in time. Entries the snapshot already holds are skipped; new ones
-- get ids from the snapshot's sequence.
INSERT INTO audit_log (occurred_at, username, roles, action, entity, entity_id, before, after, detail)
SELECT c.occurred_at, c.username, c.roles, c.action, c.entity, c.entity_id,
       CAST(c.before AS JSON), CAST(c.after AS JSON), CAST(c.detail AS JSON)
FROM live_audit_log AS c
WHERE c.occurred_at >= CAST($since AS TIMESTAMP)
  AND NOT EXISTS (SELECT 1 FROM audit_log AS a
                  WHERE a.occurred_at >= CAST($since AS TIMESTAMP)
                    AND a.occurred_at = c.occurred_at AND a.username = c.username
                    AND a.action = c.action AND a.entity_id IS NOT DISTINCT FROM c.entity_id
                    AND CAST(a.detail AS VARCHAR) IS NOT DISTINCT FROM c.detail)
ORDER BY c.audit_id

-- name: backup_carry_audit_rest
-- The second half of the carry, run once no session can write: the closed warehouse file is
-- attached read-only as `live`; every entry since the snapshot whose id backup_carry_audit did
-- not see (`carried_seen`) was written after that read, so it is new to the staged file.
INSERT INTO audit_log (occurred_at, username, roles, action, entity, entity_id, before, after, detail)
SELECT c.occurred_at, c.username, c.roles, c.action, c.entity, c.entity_id,
       c.before, c.after, c.detail
FROM live.audit_log AS c
WHERE c.occurred_at >= CAST($since AS TIMESTAMP)
  AND c.audit_id NOT IN (SELECT audit_id FROM carried_seen)
ORDER BY c.audit_id
