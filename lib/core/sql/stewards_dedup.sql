-- Stewards: duplicate detection (splink input, candidates, clusters) and merges with undo.

-- name: stw_dedup_input
-- Matching columns of live customers. py: pinyin syllables without spaces (the same for
-- Traditional/Simplified spellings and homophones); mobile_key: digits without the +86 prefix
-- (stored mobiles are E.164; anything else is reduced to its digits).
-- family_name / given_name feed the name keys lib/match_model.py builds (family and given apart).
-- address_n: no spaces, lower case, common Traditional characters folded, and a leading
-- province/city written out ("浙江省杭州市西湖区…" = "西湖区…") dropped.
SELECT customer_id AS unique_id, full_name, family_name, given_name,
       nullif(replace(split_part(name_pinyin, '|', 1), ' ', ''), '') AS py,
       CASE WHEN mobile LIKE '+86%' THEN nullif(substr(mobile, 4), '')
            WHEN mobile LIKE '+%' AND NOT regexp_matches(mobile, '[^+0-9]') THEN nullif(substr(mobile, 2), '')
            ELSE (SELECT CASE WHEN length(d) = 13 AND d LIKE '86%' THEN substr(d, 3) ELSE nullif(d, '') END
                  FROM (SELECT regexp_replace(mobile, '[^0-9]', '', 'g') AS d)) END AS mobile_key,
       nullif(lower(trim(email)), '') AS email_norm,
       birth_date,
       (SELECT nullif(CASE WHEN contains(a, '省') OR contains(a, '市')
                           THEN regexp_replace(a, '^([^0-9]{2,7}?省)?([^0-9]{2,7}?市)?([^0-9]{2,4}区.*)$', '\3')
                           ELSE a END, '')
        FROM (SELECT translate(lower(regexp_replace(address, '\s+', '', 'g')),
                               '號棟區門樓層單東馬廣長橋華縣鎮鄉園陽灣臺',
                               '号栋区门楼层单东马广长桥华县镇乡园阳湾台') AS a)) AS address_n,
       postcode, city, id_number_hash AS id_hash,
       -- an ID number that failed its checks (a foreign ID, a typo) is kept raw with its flag;
       -- lib/dedup.py hashes it for this run only (the hash is never stored)
       CASE WHEN id_number_hash IS NULL AND raw_values IS NOT NULL
            THEN nullif(upper(regexp_replace(json_extract_string(raw_values, '$.id_number'), '[\s-]', '', 'g')), '')
       END AS raw_id
FROM customers
WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL

-- name: stw_dedup_run_start
INSERT INTO dedup_runs (username, mode, threshold) VALUES (:username, :mode, :threshold)
RETURNING run_id

-- name: stw_dedup_run_finish
UPDATE dedup_runs SET finished_at = current_timestamp, records = :records, pairs = :pairs,
       model = CAST(:model AS JSON), seconds = :seconds
WHERE run_id = :run_id

-- name: stw_dedup_latest_model
SELECT run_id, CAST(model AS VARCHAR) AS model FROM dedup_runs
WHERE mode = 'full' AND model IS NOT NULL AND finished_at IS NOT NULL
ORDER BY run_id DESC LIMIT 1

-- name: stw_dedup_runs
SELECT run_id, started_at, finished_at, username, mode, records, pairs, threshold, seconds
FROM dedup_runs ORDER BY run_id DESC LIMIT :limit

-- name: stw_dedup_insert_pairs
INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, match_weight, agreement)
SELECT :run_id, p.id_l, p.id_r, p.match_probability, p.match_weight, CAST(p.agreement AS JSON)
FROM stw_pairs p
WHERE NOT EXISTS (SELECT 1 FROM dedup_candidates d
                  WHERE d.customer_id_l = p.id_l AND d.customer_id_r = p.id_r)

-- name: stw_dedup_refresh_open_pairs
UPDATE dedup_candidates SET match_probability = p.match_probability, match_weight = p.match_weight,
       agreement = CAST(p.agreement AS JSON), run_id = :run_id
FROM stw_pairs p
WHERE dedup_candidates.customer_id_l = p.id_l AND dedup_candidates.customer_id_r = p.id_r
  AND dedup_candidates.status = 'open'

-- name: stw_dedup_insert_clusters
INSERT INTO dedup_clusters (run_id, cluster_id, customer_id)
SELECT :run_id, cluster_id, customer_id FROM stw_clusters

-- name: stw_dedup_candidates
SELECT d.pair_id, d.match_probability, d.match_weight, d.status,
       d.customer_id_l, l.source AS source_l, l.source_record_id AS source_record_id_l, l.full_name AS name_l,
       d.customer_id_r, r.source AS source_r, r.source_record_id AS source_record_id_r, r.full_name AS name_r,
       CAST(d.agreement AS VARCHAR) AS agreement, d.created_at
FROM dedup_candidates d
JOIN customers l ON l.customer_id = d.customer_id_l
JOIN customers r ON r.customer_id = d.customer_id_r
WHERE d.status = :status AND d.match_probability >= :min_probability
  AND (:status <> 'open' OR (l.merged_into IS NULL AND r.merged_into IS NULL
                             AND l.deleted_at IS NULL AND r.deleted_at IS NULL))
ORDER BY d.match_probability DESC, d.pair_id
LIMIT :limit OFFSET :offset

-- name: stw_dedup_candidate_count
SELECT count(*) FROM dedup_candidates d
JOIN customers l ON l.customer_id = d.customer_id_l
JOIN customers r ON r.customer_id = d.customer_id_r
WHERE d.status = 'open' AND l.merged_into IS NULL AND r.merged_into IS NULL
  AND l.deleted_at IS NULL AND r.deleted_at IS NULL

-- name: stw_dedup_pair
SELECT pair_id, customer_id_l, customer_id_r, match_probability, match_weight,
       CAST(agreement AS VARCHAR) AS agreement, status
FROM dedup_candidates WHERE pair_id = :pair_id

-- name: stw_dedup_pair_set_status
UPDATE dedup_candidates SET status = :status, resolved_at = current_timestamp, resolved_by = :username
WHERE pair_id = :pair_id

-- name: stw_dedup_pair_reopen
UPDATE dedup_candidates SET status = 'open', resolved_at = NULL, resolved_by = NULL
WHERE pair_id = :pair_id

-- name: stw_dedup_export_pairs
SELECT d.pair_id, d.customer_id_l, l.source AS source_l, l.source_record_id AS source_record_id_l,
       d.customer_id_r, r.source AS source_r, r.source_record_id AS source_record_id_r,
       d.match_probability, d.match_weight, d.status
FROM dedup_candidates d
JOIN customers l ON l.customer_id = d.customer_id_l
JOIN customers r ON r.customer_id = d.customer_id_r
WHERE d.match_probability >= :min_probability AND l.deleted_at IS NULL AND r.deleted_at IS NULL
ORDER BY d.match_probability DESC, d.pair_id

-- name: stw_dedup_export_clusters
SELECT k.cluster_id, k.customer_id, c.source, c.source_record_id
FROM dedup_clusters k JOIN customers c USING (customer_id)
WHERE k.run_id = (SELECT max(run_id) FROM dedup_clusters) AND c.deleted_at IS NULL
ORDER BY k.cluster_id, k.customer_id

-- name: stw_dedup_truth_pairs
SELECT least(customer_id, duplicate_of) AS id_l, greatest(customer_id, duplicate_of) AS id_r
FROM demo_ground_truth WHERE defect = 'duplicate' AND duplicate_of IS NOT NULL

-- name: stw_dedup_predicted_pairs
SELECT customer_id_l AS id_l, customer_id_r AS id_r, match_probability
FROM dedup_candidates WHERE match_probability >= :threshold

-- name: stw_merge_start
INSERT INTO merges (survivor_id, merged_id, pair_id, choices, moved, survivor_version, merged_by)
VALUES (:survivor_id, :merged_id, :pair_id, CAST(:choices AS JSON), CAST('{}' AS JSON), 0, :username)
RETURNING merge_id

-- name: stw_merge_snapshot
INSERT INTO merge_customer_snapshots
SELECT :merge_id, :role, customer_id, source, source_record_id, family_name, given_name, full_name,
       name_pinyin, gender, birth_date, mobile, email, id_number_enc, id_number_hash, id_number_last4,
       country, province, city, district, address, postcode, customer_type, company, industry,
       job_title, uscc, channel, registered_at, updated_at, verified_at, lifecycle_stage,
       churn_reason, raw_values, version, merged_into, deleted_at, erased_at
FROM customers WHERE customer_id = :customer_id

-- name: stw_merge_child_ids
SELECT
    (SELECT coalesce(list(order_id ORDER BY order_id), []) FROM orders WHERE customer_id = :merged_id) AS orders,
    (SELECT coalesce(list(event_id ORDER BY event_id), []) FROM events WHERE customer_id = :merged_id) AS events,
    (SELECT coalesce(list(consent_id ORDER BY consent_id), []) FROM consents WHERE customer_id = :merged_id) AS consents,
    (SELECT coalesce(list(tag ORDER BY tag), []) FROM tags WHERE customer_id = :merged_id
        AND tag NOT IN (SELECT tag FROM tags WHERE customer_id = :survivor_id)) AS tags,
    (SELECT coalesce(list(tag ORDER BY tag), []) FROM tags WHERE customer_id = :merged_id
        AND tag IN (SELECT tag FROM tags WHERE customer_id = :survivor_id)) AS tags_dropped,
    (SELECT coalesce(list(flag_id ORDER BY flag_id), []) FROM quality_flags
        WHERE customer_id = :merged_id AND status = 'open') AS flags

-- name: stw_merge_dropped_tags
SELECT tag, created_by, CAST(created_at AS VARCHAR) AS created_at FROM tags
WHERE customer_id = :merged_id AND list_contains(:tags, tag)

-- name: stw_merge_move_orders
UPDATE orders SET customer_id = :to_id WHERE customer_id = :from_id AND list_contains(:ids, order_id)

-- name: stw_merge_move_events
UPDATE events SET customer_id = :to_id WHERE customer_id = :from_id AND list_contains(:ids, event_id)

-- name: stw_merge_move_consents
UPDATE consents SET customer_id = :to_id WHERE customer_id = :from_id AND list_contains(:ids, consent_id)

-- name: stw_merge_move_tags
UPDATE tags SET customer_id = :to_id WHERE customer_id = :from_id AND list_contains(:tags, tag)

-- name: stw_merge_delete_tags
DELETE FROM tags WHERE customer_id = :customer_id AND list_contains(:tags, tag)

-- name: stw_merge_insert_tag
INSERT INTO tags (customer_id, tag, created_by, created_at)
VALUES (:customer_id, :tag, :created_by, CAST(:created_at AS TIMESTAMP))

-- name: stw_merge_flags_close
UPDATE quality_flags SET status = 'merged', resolved_at = current_timestamp, resolved_by = :username
WHERE list_contains(:ids, flag_id)

-- name: stw_merge_flags_reopen
UPDATE quality_flags SET status = 'open', resolved_at = NULL, resolved_by = NULL
WHERE list_contains(:ids, flag_id) AND status = 'merged'

-- name: stw_merge_mark_merged
UPDATE customers SET merged_into = :survivor_id, version = version + 1
WHERE customer_id = :merged_id AND version = :expected_version AND merged_into IS NULL

-- name: stw_merge_finish
UPDATE merges SET moved = CAST(:moved AS JSON), survivor_version = :survivor_version
WHERE merge_id = :merge_id

-- name: stw_merge_by_id
SELECT merge_id, survivor_id, merged_id, pair_id, CAST(choices AS VARCHAR) AS choices,
       CAST(moved AS VARCHAR) AS moved, survivor_version, merged_by, merged_at, undone_at, undone_by
FROM merges WHERE merge_id = :merge_id

-- name: stw_merge_restore_customers
UPDATE customers SET
    source = s.source, source_record_id = s.source_record_id, family_name = s.family_name,
    given_name = s.given_name, full_name = s.full_name, name_pinyin = s.name_pinyin,
    gender = s.gender, birth_date = s.birth_date, mobile = s.mobile, email = s.email,
    id_number_enc = s.id_number_enc, id_number_hash = s.id_number_hash,
    id_number_last4 = s.id_number_last4, country = s.country, province = s.province,
    city = s.city, district = s.district, address = s.address, postcode = s.postcode,
    customer_type = s.customer_type, company = s.company, industry = s.industry,
    job_title = s.job_title, uscc = s.uscc, channel = s.channel,
    registered_at = s.registered_at, updated_at = s.updated_at, verified_at = s.verified_at,
    lifecycle_stage = s.lifecycle_stage, churn_reason = s.churn_reason,
    raw_values = s.raw_values, version = s.version, merged_into = s.merged_into,
    deleted_at = s.deleted_at, erased_at = s.erased_at
FROM merge_customer_snapshots s
WHERE s.merge_id = :merge_id AND s.customer_id = customers.customer_id

-- name: stw_merge_undone
UPDATE merges SET undone_at = current_timestamp, undone_by = :username WHERE merge_id = :merge_id

-- name: stw_merges_recent
SELECT m.merge_id, m.survivor_id, s.full_name AS survivor_name, m.merged_id, m.merged_by,
       m.merged_at, m.undone_at, m.undone_by
FROM merges m LEFT JOIN customers s ON s.customer_id = m.survivor_id
ORDER BY m.merge_id DESC LIMIT :limit

-- name: stw_merge_survivor_update
UPDATE customers SET
    family_name = :family_name, given_name = :given_name, full_name = :full_name,
    name_pinyin = :name_pinyin, gender = :gender, birth_date = CAST(:birth_date AS DATE),
    mobile = :mobile, email = :email, id_number_enc = :id_number_enc,
    id_number_hash = :id_number_hash, id_number_last4 = :id_number_last4,
    country = coalesce(:country, 'CN'), province = :province, city = :city, district = :district,
    address = :address, postcode = :postcode, customer_type = coalesce(:customer_type, 'B2C'),
    company = :company, industry = :industry, job_title = :job_title, uscc = :uscc,
    updated_at = current_timestamp, version = version + 1
WHERE customer_id = :customer_id AND version = :expected_version

-- name: stw_dedup_candidates_total
SELECT count(*) FROM dedup_candidates
