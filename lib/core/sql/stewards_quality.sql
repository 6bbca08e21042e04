-- Stewards: data-quality rules. Every rule block returns one row per customer in the rule's
-- population: customer_id, source, channel, failed (BOOLEAN, never NULL). Live customers only
-- (not merged, deleted or erased). Parameters every rule may use: :as_of (DATE),
-- :stale_before (TIMESTAMP), :cn_mobile (phonenumbers' national pattern for Chinese mobiles).
-- The registry (dimension, severity, field) is lib/quality.py RULES.

-- name: stw_rule_name_present
SELECT customer_id, source, channel, (full_name IS NULL OR trim(full_name) = '') AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_contact_present
SELECT customer_id, source, channel, (mobile IS NULL AND email IS NULL) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_birth_date_present
SELECT customer_id, source, channel, birth_date IS NULL AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND customer_type = 'B2C'

-- name: stw_rule_address_present
SELECT customer_id, source, channel, (address IS NULL OR city IS NULL) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_company_present
SELECT customer_id, source, channel, company IS NULL AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND customer_type = 'B2B'

-- name: stw_rule_mobile_valid
SELECT customer_id, source, channel,
       NOT CASE WHEN mobile LIKE '+86%' THEN regexp_full_match(substr(mobile, 4), :cn_mobile)
                ELSE regexp_full_match(mobile, '\+[1-9][0-9]{6,14}') END AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND mobile IS NOT NULL

-- name: stw_rule_email_valid
SELECT customer_id, source, channel,
       NOT (regexp_full_match(email, '[^\s@,;＠."]+(\.[^\s@,;＠."]+)*@[^\s@,;＠.-]([^\s@,;＠.]*[^\s@,;＠.-])?(\.[^\s@,;＠.-]([^\s@,;＠.]*[^\s@,;＠.-])?)+')
            AND NOT regexp_matches(email, '\.[0-9]+$')) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND email IS NOT NULL

-- name: stw_rule_postcode_valid
SELECT customer_id, source, channel, NOT regexp_full_match(postcode, '[0-9]{6}') AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND country = 'CN' AND postcode IS NOT NULL

-- name: stw_rule_birth_date_plausible
SELECT customer_id, source, channel,
       (birth_date > CAST(:as_of AS DATE) OR birth_date < DATE '1900-01-01') AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND birth_date IS NOT NULL

-- name: stw_rule_uscc_valid
SELECT customer_id, source, channel,
       NOT regexp_full_match(uscc, '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}') AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND uscc IS NOT NULL

-- name: stw_rule_import_value_rejected
SELECT customer_id, source, channel, raw_values IS NOT NULL AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_mobile_unique
SELECT customer_id, source, channel,
       mobile IN (SELECT mobile FROM customers
                  WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
                    AND mobile IS NOT NULL
                  GROUP BY mobile HAVING count(*) > 1) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND mobile IS NOT NULL

-- name: stw_rule_email_unique
SELECT customer_id, source, channel,
       lower(email) IN (SELECT lower(email) FROM customers
                        WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
                          AND email IS NOT NULL
                        GROUP BY lower(email) HAVING count(*) > 1) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND email IS NOT NULL

-- name: stw_rule_id_number_unique
SELECT customer_id, source, channel,
       id_number_hash IN (SELECT id_number_hash FROM customers
                          WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
                            AND id_number_hash IS NOT NULL
                          GROUP BY id_number_hash HAVING count(*) > 1) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND id_number_hash IS NOT NULL

-- name: stw_rule_born_before_registration
SELECT customer_id, source, channel, birth_date > CAST(registered_at AS DATE) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND birth_date IS NOT NULL AND birth_date <= CAST(:as_of AS DATE)

-- name: stw_rule_updated_after_registration
SELECT customer_id, source, channel, updated_at < registered_at AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_pinyin_present
SELECT customer_id, source, channel, name_pinyin IS NULL AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND full_name IS NOT NULL

-- name: stw_rule_refund_within_amount
SELECT customer_id, source, channel,
       customer_id IN (SELECT customer_id FROM orders WHERE refund_amount > amount) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_not_stale
SELECT customer_id, source, channel,
       greatest(updated_at, coalesce(verified_at, updated_at)) < CAST(:stale_before AS TIMESTAMP) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_rule_mobile_not_placeholder
SELECT customer_id, source, channel,
       (regexp_matches(mobile, '(0000000|1111111|2222222|3333333|4444444|5555555|6666666|7777777|8888888|9999999)')
        OR regexp_matches(mobile, '(12345678|23456789|87654321)')) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND mobile IS NOT NULL

-- name: stw_rule_email_domain_plausible
SELECT customer_id, source, channel,
       list_contains(['qq.co', 'qq.con', 'qq.cm', '163.co', '163.con', '163.cm', '126.co', '126.con',
                      'gmial.com', 'gmai.com', 'gamil.com', 'gmail.co', 'gmail.con', 'hotmial.com',
                      'hotmail.co', 'outlok.com', 'yahoo.co', 'sina.co', 'sina.con', 'foxmail.co',
                      '136.com', '162.com', 'qq.cn'],
                     lower(split_part(email, '@', 2))) AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND email IS NOT NULL

-- name: stw_rule_age_plausible
SELECT customer_id, source, channel,
       date_diff('year', birth_date, CAST(:as_of AS DATE)) > 110 AS failed
FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL
  AND birth_date IS NOT NULL AND birth_date >= DATE '1900-01-01'

-- name: stw_q_collect_failures
-- Wrappers: the RULE placeholder in stw_q_rule_agg_into and stw_q_failing_for_customer /
-- stw_q_drilldown is replaced by a rule block above (trusted text from this file).
INSERT INTO stw_run_failures (rule_id, customer_id)
SELECT :rule_id, unnest(failed_ids) FROM stw_rule_agg WHERE failed > 0

-- name: stw_q_failing_for_customer
SELECT r.customer_id FROM (__RULE__) r WHERE r.failed AND r.customer_id = :customer_id

-- name: stw_q_drilldown
SELECT c.customer_id, c.source, c.source_record_id, c.channel, c.full_name, __VALUE__ AS value,
       c.updated_at
FROM (__RULE__) r JOIN customers c USING (customer_id)
WHERE r.failed
  AND (CAST(:source AS VARCHAR) IS NULL OR c.source = :source)
  AND (CAST(:channel AS VARCHAR) IS NULL OR c.channel = :channel)
ORDER BY c.customer_id
LIMIT :limit

-- name: stw_q_run_failures_table
CREATE TEMP TABLE IF NOT EXISTS stw_run_failures (rule_id VARCHAR, customer_id BIGINT)

-- name: stw_q_run_failures_clear
DELETE FROM stw_run_failures

-- name: stw_q_run_start
INSERT INTO quality_runs (username) VALUES (:username) RETURNING run_id

-- name: stw_q_run_finish
UPDATE quality_runs SET finished_at = current_timestamp, customers = :customers,
       overall_score = :overall_score, seconds = :seconds
WHERE run_id = :run_id

-- name: stw_q_insert_results
INSERT INTO quality_results (run_id, rule_id, dimension, severity, field, source, channel, checked, failed)
SELECT :run_id, rule_id, dimension, severity, field, source, channel, checked, failed FROM stw_results

-- name: stw_q_live_customers
SELECT count(*) FROM customers WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_q_open_flags
-- Open a flag for every new failure, unless a steward verified or ignored the same finding on
-- the same version of the record.
INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity, run_id)
SELECT f.customer_id, 'rule', f.rule_id, m.field, m.severity, :run_id
FROM stw_run_failures f
JOIN stw_rule_meta m USING (rule_id)
JOIN customers c ON c.customer_id = f.customer_id
WHERE NOT EXISTS (
    SELECT 1 FROM quality_flags q
    WHERE q.customer_id = f.customer_id AND q.rule_id = f.rule_id AND q.kind = 'rule'
      AND (q.status = 'open'
           OR (q.status IN ('verified', 'ignored') AND q.decided_version = c.version)))

-- name: stw_q_resolve_passing_flags
-- Open rule flags whose record passes now are resolved by the run.
UPDATE quality_flags SET status = 'resolved', resolved_at = current_timestamp,
       resolved_by = 'quality-run', run_id = :run_id
WHERE kind = 'rule' AND status = 'open'
  AND list_contains(:rule_ids, rule_id)
  AND NOT EXISTS (SELECT 1 FROM stw_run_failures f
                  WHERE f.rule_id = quality_flags.rule_id AND f.customer_id = quality_flags.customer_id)

-- name: stw_q_runs
SELECT run_id, started_at, finished_at, username, customers, overall_score, seconds
FROM quality_runs WHERE finished_at IS NOT NULL ORDER BY run_id DESC LIMIT :limit

-- name: stw_q_results
SELECT rule_id, dimension, severity, field, source, channel, checked, failed
FROM quality_results WHERE run_id = :run_id

-- name: stw_q_results_all_runs
SELECT r.run_id, q.started_at, r.rule_id, r.dimension, r.severity, r.field,
       sum(r.checked) AS checked, sum(r.failed) AS failed
FROM quality_results r JOIN quality_runs q USING (run_id)
WHERE q.finished_at IS NOT NULL
GROUP BY ALL ORDER BY r.run_id

-- name: stw_q_open_flags_for_customer
SELECT flag_id, kind, rule_id, field, severity, CAST(detail AS VARCHAR) AS detail, pair_id,
       created_at
FROM quality_flags WHERE customer_id = :customer_id AND status = 'open'
ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, flag_id

-- name: stw_q_rule_agg_into
CREATE OR REPLACE TEMP TABLE stw_rule_agg AS
SELECT r.source, r.channel, count(*) AS checked, count(*) FILTER (WHERE r.failed) AS failed,
       list(r.customer_id) FILTER (WHERE r.failed) AS failed_ids
FROM (__RULE__) r GROUP BY r.source, r.channel

-- name: stw_q_rule_agg_counts
SELECT source, channel, checked, failed FROM stw_rule_agg
