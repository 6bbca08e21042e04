-- Interactions (calls, visits, notes ... with follow-ups), consent and interaction imports,
-- and the review queue's bulk actions (issue #16, items 3, 5 and 6).

-- ================================================================ interactions

-- name: ixn_customer_state
SELECT customer_id, merged_into, deleted_at, erased_at FROM customers WHERE customer_id = :customer_id

-- name: ixn_next_id
SELECT nextval('interaction_id_seq')

-- name: ixn_insert
INSERT INTO interactions (interaction_id, customer_id, interaction_type, channel, outcome, occurred_at,
    owner, note, follow_up_on, source, created_by, created_at)
VALUES (:interaction_id, :customer_id, :interaction_type, :channel, :outcome,
    CAST(:occurred_at AS TIMESTAMP), :owner, :note, CAST(:follow_up_on AS DATE), 'app', :created_by,
    CAST(:created_at AS TIMESTAMP))

-- name: ixn_by_id
SELECT interaction_id, customer_id, interaction_type, channel, outcome, occurred_at, owner, note,
       follow_up_on, follow_up_done_at, follow_up_done_by
FROM interactions WHERE interaction_id = :interaction_id

-- name: ixn_mark_done
UPDATE interactions SET follow_up_done_at = CAST(:done_at AS TIMESTAMP), follow_up_done_by = :username
WHERE interaction_id = :interaction_id AND follow_up_on IS NOT NULL AND follow_up_done_at IS NULL

-- name: ixn_timeline
-- One customer's interactions and the complaints and consults that arrived as events, newest
-- first. Events have no owner, outcome or follow-up. A merge moves events to the survivor but
-- leaves interactions where they were logged: the survivor's timeline includes those of the
-- records merged into it.
SELECT * FROM (
    SELECT 'interaction' AS origin, interaction_id AS entry_id, occurred_at, interaction_type,
           channel, outcome, owner, note, follow_up_on, follow_up_done_at
    FROM interactions
    WHERE customer_id = :customer_id
       OR customer_id IN (SELECT customer_id FROM customers WHERE merged_into = :customer_id)
    UNION ALL
    SELECT 'event', event_id, event_time, event_type, channel, NULL, NULL, note, NULL, NULL
    FROM events WHERE customer_id = :customer_id AND event_type IN ('complaint', 'consult')
)
ORDER BY occurred_at DESC, entry_id DESC
LIMIT :limit

-- name: ixn_follow_ups
-- Open follow-ups one user owns, the longest overdue first (then by customer).
SELECT i.interaction_id, i.follow_up_on, i.customer_id, c.full_name, i.interaction_type, i.channel,
       i.outcome, i.occurred_at, i.note
FROM interactions i JOIN customers c USING (customer_id)
WHERE i.owner = :owner AND i.follow_up_on IS NOT NULL AND i.follow_up_done_at IS NULL
  AND c.deleted_at IS NULL
ORDER BY i.follow_up_on, i.customer_id, i.interaction_id

-- name: ixn_existing_keys
SELECT list(DISTINCT k.k) FROM stw_keys k
JOIN interactions i ON i.source = :source AND i.source_record_id = k.k

-- name: ixn_known_users
SELECT list(username) FROM app_users

-- name: ixn_insert_rows
INSERT INTO interactions (interaction_id, customer_id, interaction_type, channel, outcome, occurred_at,
    owner, note, follow_up_on, follow_up_done_at, follow_up_done_by, source, source_record_id,
    import_id, created_by, created_at)
SELECT nextval('interaction_id_seq'), r.customer_id, r.interaction_type, r.channel, r.outcome,
       r.occurred_at, r.owner, r.note, CAST(r.follow_up_on AS DATE),
       CASE WHEN r.follow_up_done THEN CAST(:now AS TIMESTAMP) END,
       CASE WHEN r.follow_up_done THEN :username END,
       :source, r.source_record_id, :import_id, :username, CAST(:now AS TIMESTAMP)
FROM stw_rows r
ORDER BY r.row_no

-- name: ixn_erase_notes
UPDATE interactions SET note = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id) AND note IS NOT NULL

-- ================================================================ consents

-- name: cns_insert
INSERT INTO consents (customer_id, channel, status, source, recorded_at, recorded_by, evidence)
VALUES (:customer_id, :channel, :status, :source, CAST(:recorded_at AS TIMESTAMP), :recorded_by, :evidence)

-- name: cns_row_state
-- Import rows (their customer found by lib/stewardship/customer_keys.py) with the customer's
-- erasure and whether the same change (customer, channel, status, time) is already recorded:
-- a re-import adds nothing.
SELECT r.row_no, c.erased_at,
       EXISTS (SELECT 1 FROM consents x
               WHERE x.customer_id = r.customer_id AND x.channel = r.channel
                 AND x.status = r.status AND x.recorded_at = r.recorded_at) AS present
FROM stw_rows r
JOIN customers c ON c.customer_id = r.customer_id

-- name: cns_insert_rows
INSERT INTO consents (customer_id, channel, status, source, recorded_at, recorded_by, evidence)
SELECT r.customer_id, r.channel, r.status, r.consent_source, r.recorded_at, :username, r.evidence
FROM stw_rows r
ORDER BY r.row_no

-- name: cns_erase_evidence
UPDATE consents SET evidence = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id) AND evidence IS NOT NULL

-- ================================================================ review queue in bulk

-- name: rv_flags_by_ids
SELECT f.flag_id, f.customer_id, f.kind, f.rule_id, f.field, f.status, c.version
FROM quality_flags f JOIN customers c USING (customer_id)
WHERE list_contains(CAST(:flag_ids AS BIGINT[]), f.flag_id)
ORDER BY f.flag_id
