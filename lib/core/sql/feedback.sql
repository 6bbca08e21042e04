-- Customer feedback (issue #16 item 4): survey responses, NPS and CSAT, the detractor worklist.
-- Tables: feedback (migration 0018). Definitions of NPS and CSAT: docs/metrics.md ("Feedback").
-- A response of a record that was merged later counts for the survivor (merged_into); only
-- live customers count in metrics and segments (agg_customer / segment_base exclude merged and
-- deleted records).

-- name: fb_merged
-- Records merged into another, each with the record at the end of its merge chain (up to three
-- merges deep; a merge moves orders and events but not responses, so responses are mapped
-- here). Only the merged records are read: a few rows, not every customer.
WITH m AS (SELECT customer_id, merged_into FROM customers WHERE merged_into IS NOT NULL)
SELECT a.customer_id, coalesce(c.merged_into, b.merged_into, a.merged_into) AS merged_into
FROM m a LEFT JOIN m b ON b.customer_id = a.merged_into LEFT JOIN m c ON c.customer_id = b.merged_into

-- ============================================================ import (lib/stewardship/importer.py)

-- name: fb_existing_keys
-- One row holding the list: a re-import finds every key, and one value converts fast.
SELECT list(DISTINCT k.k) FROM stw_keys k
JOIN feedback f ON f.source = :source AND f.source_record_id = k.k

-- name: fb_insert_import
INSERT INTO feedback (feedback_id, customer_id, survey, scale, score, comment, responded_at, channel,
                      source, source_record_id, import_id, recorded_by)
SELECT nextval('feedback_id_seq'), r.customer_id, r.survey, r.scale, CAST(r.score AS INTEGER), r.comment,
       r.responded_at, r.channel, :source, r.source_record_id, :import_id, :username
FROM stw_rows r
ORDER BY r.row_no

-- ============================================================ hand entry and follow-up (lib/stewardship/feedback.py)

-- name: fb_customer_live
SELECT customer_id, merged_into, deleted_at FROM customers WHERE customer_id = :customer_id

-- name: fb_insert_one
INSERT INTO feedback (customer_id, survey, scale, score, comment, responded_at, channel, source,
                      source_record_id, recorded_by)
VALUES (:customer_id, :survey, :scale, :score, :comment, :responded_at, :channel, 'manual',
        :source_record_id, :username)
RETURNING feedback_id

-- name: fb_by_id
SELECT feedback_id, customer_id, survey, scale, score, responded_at, handled_at, handled_by
FROM feedback WHERE feedback_id = :feedback_id

-- name: fb_mark_handled
UPDATE feedback SET handled_at = CAST(:now AS TIMESTAMP), handled_by = :username, handled_note = :note
WHERE feedback_id = :feedback_id AND handled_at IS NULL

-- name: fb_of_customer
-- Every response of the customer's records (the record and those merged into it), newest first.
-- The record's ids are found first, then their responses: joining every response to the merges
-- and filtering after took 24 ms at 1M (423k responses), this 6 ms.
WITH merged AS ({{fb_merged}}
),
ids AS (
    SELECT CAST(:customer_id AS BIGINT) AS customer_id
    UNION SELECT customer_id FROM merged WHERE merged_into = :customer_id
)
SELECT f.feedback_id, f.responded_at, f.survey, f.scale, f.score, f.comment, f.channel, f.source,
       f.recorded_by, f.handled_at, f.handled_by, f.handled_note
FROM feedback f SEMI JOIN ids ON ids.customer_id = f.customer_id
ORDER BY f.responded_at DESC, f.feedback_id DESC
LIMIT :limit

-- name: fb_worklist
-- Detractors: live customers whose latest NPS response (of any of their records) scores 0-6,
-- not yet handled; with handled = true, the handled ones instead (to show what was done).
WITH merged AS ({{fb_merged}}
),
latest AS (
    SELECT coalesce(m.merged_into, f.customer_id) AS customer_id,
           arg_max(f.feedback_id, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) AS feedback_id,
           arg_max(f.score, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) AS score
    FROM feedback f LEFT JOIN merged m ON m.customer_id = f.customer_id
    WHERE f.scale = 'nps'
    GROUP BY 1)
SELECT f.feedback_id, l.customer_id, c.full_name, f.responded_at, f.survey, f.score, f.comment, f.channel,
       f.handled_at, f.handled_by, f.handled_note
FROM latest l
JOIN feedback f ON f.feedback_id = l.feedback_id
JOIN customers c ON c.customer_id = l.customer_id
WHERE l.score <= 6 AND c.merged_into IS NULL AND c.deleted_at IS NULL
  AND (CAST(:handled AS BOOLEAN) = (f.handled_at IS NOT NULL))
ORDER BY f.responded_at DESC, f.feedback_id DESC
LIMIT :limit

-- name: fb_worklist_count
WITH merged AS ({{fb_merged}}
),
latest AS (
    SELECT coalesce(m.merged_into, f.customer_id) AS customer_id,
           arg_max(f.feedback_id, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) AS feedback_id,
           arg_max(f.score, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) AS score
    FROM feedback f LEFT JOIN merged m ON m.customer_id = f.customer_id
    WHERE f.scale = 'nps'
    GROUP BY 1)
SELECT count(*)
FROM latest l
JOIN feedback f ON f.feedback_id = l.feedback_id
JOIN customers c ON c.customer_id = l.customer_id
WHERE l.score <= 6 AND f.handled_at IS NULL AND c.merged_into IS NULL AND c.deleted_at IS NULL

-- ============================================================ Overview (lib/dashboards/feedback.py)

-- name: fb_window_responses
-- Responses in [:w_a, :w_b] of live customers in the segments the sidebar filters select
-- (agg_customer holds one row per live customer with its segment). Four CTEs. A response of a
-- merged record counts for its survivor (merged: the few merged records, not all customers).
segs AS (
    SELECT seg FROM agg_segs
    WHERE {{overview_segment_filter}}),
live AS (SELECT a.customer_id FROM agg_customer a JOIN segs USING (seg)),
merged AS ({{fb_merged}}
),
resp AS (
    SELECT coalesce(m.merged_into, f.customer_id) AS customer_id, f.feedback_id, f.scale, f.score,
           f.responded_at, CAST(date_trunc('month', f.responded_at) AS DATE) AS month
    FROM feedback f LEFT JOIN merged m ON m.customer_id = f.customer_id
    WHERE f.responded_at >= CAST(:w_a AS TIMESTAMP)
      AND f.responded_at < CAST(:w_b AS TIMESTAMP) + INTERVAL 1 DAY)

-- name: fb_overview_scores
-- NPS and CSAT over the window: the latest response per customer and scale counts.
WITH {{fb_window_responses}},
latest AS (
    -- an aggregate, not a window (a hash aggregate is several times faster than sorting); the
    -- key orders by time, then by id, as one HUGEINT (3x faster than a (time, id) struct)
    SELECT r.scale, arg_max(r.score, CAST(epoch_us(r.responded_at) AS HUGEINT) * 10000000000 + r.feedback_id) AS score
    FROM resp r JOIN live USING (customer_id)
    GROUP BY r.customer_id, r.scale)
SELECT count(*) FILTER (WHERE scale = 'nps') AS nps_responses,
       count(*) FILTER (WHERE scale = 'nps' AND score >= 9) AS promoters,
       count(*) FILTER (WHERE scale = 'nps' AND score BETWEEN 7 AND 8) AS passives,
       count(*) FILTER (WHERE scale = 'nps' AND score <= 6) AS detractors,
       count(*) FILTER (WHERE scale = 'csat') AS csat_responses,
       count(*) FILTER (WHERE scale = 'csat' AND score >= 4) AS satisfied
FROM latest

-- name: fb_overview_monthly
-- Per calendar month touched by the window (clipped to it): the same counts, the latest
-- response per customer, scale and month.
WITH {{fb_window_responses}},
latest AS (
    SELECT r.month, r.scale, arg_max(r.score, CAST(epoch_us(r.responded_at) AS HUGEINT) * 10000000000 + r.feedback_id) AS score
    FROM resp r JOIN live USING (customer_id)
    GROUP BY r.customer_id, r.scale, r.month),
counts AS (
    SELECT month,
           count(*) FILTER (WHERE scale = 'nps') AS nps_responses,
           count(*) FILTER (WHERE scale = 'nps' AND score >= 9) AS promoters,
           count(*) FILTER (WHERE scale = 'nps' AND score <= 6) AS detractors,
           count(*) FILTER (WHERE scale = 'csat') AS csat_responses,
           count(*) FILTER (WHERE scale = 'csat' AND score >= 4) AS satisfied
    FROM latest GROUP BY month),
months AS (
    SELECT CAST(m AS DATE) AS month
    FROM range(CAST(date_trunc('month', CAST(:w_a AS DATE)) AS DATE), CAST(:w_b AS DATE) + INTERVAL 1 DAY,
               INTERVAL 1 MONTH) t(m))
SELECT months.month, coalesce(c.nps_responses, 0) AS nps_responses, coalesce(c.promoters, 0) AS promoters,
       coalesce(c.detractors, 0) AS detractors, coalesce(c.csat_responses, 0) AS csat_responses,
       coalesce(c.satisfied, 0) AS satisfied
FROM months LEFT JOIN counts c USING (month)
ORDER BY months.month

-- ============================================================ segment builder (lib/marketing/segments.py)

-- name: fb_segment_fields
-- Per customer with a response up to the as-of day: the category of the latest NPS response
-- and the latest CSAT score (segment_base joins it; customers without one have neither).
SELECT customer_id,
       CASE WHEN nps IS NULL THEN NULL WHEN nps >= 9 THEN 'promoter' WHEN nps >= 7 THEN 'passive'
            ELSE 'detractor' END AS nps_category,
       csat AS last_csat
FROM (SELECT coalesce(m.merged_into, f.customer_id) AS customer_id,
             arg_max(f.score, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) FILTER (WHERE f.scale = 'nps') AS nps,
             arg_max(f.score, CAST(epoch_us(f.responded_at) AS HUGEINT) * 10000000000 + f.feedback_id) FILTER (WHERE f.scale = 'csat') AS csat
      FROM feedback f
      LEFT JOIN ({{fb_merged}}
      ) m ON m.customer_id = f.customer_id
      WHERE f.responded_at < CAST(:as_of AS DATE) + INTERVAL 1 DAY
      GROUP BY 1)

-- ============================================================ erasure (lib/security/privacy.py)

-- name: erase_feedback_text
-- A response's comment and the steward's follow-up note are free text about the person; the
-- score, scale, survey and times stay (NPS and CSAT are unchanged by an erasure).
UPDATE feedback SET comment = NULL, handled_note = NULL
WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id) AND (comment IS NOT NULL OR handled_note IS NOT NULL)

-- name: erase_feedback_quarantine_raw
-- Feedback rows quarantined with one of the person's source keys as their customer key (their
-- comment may be about the person).
UPDATE quarantine SET raw = CAST('{"erased": true}' AS JSON)
WHERE kind = 'feedback'
  AND json_extract_string(raw, '$.customer_key') IN (
      SELECT source_record_id FROM customers WHERE list_contains(CAST(:ids AS BIGINT[]), customer_id))
  AND CAST(raw AS VARCHAR) <> '{"erased": true}'

-- ============================================================ demo (lib/demo/feedback.py)

-- name: demo_feedback_complaints
-- Complaint events per customer of the demo build (customer ids as generated).
SELECT customer_id, count(*) AS complaints FROM events WHERE event_type = 'complaint' GROUP BY customer_id

-- name: demo_feedback_insert
INSERT INTO feedback (feedback_id, customer_id, survey, scale, score, comment, responded_at, channel, source,
                      source_record_id, recorded_by, recorded_at, handled_at, handled_by, handled_note)
SELECT nextval('feedback_id_seq'), customer_id, survey, scale, score, comment, responded_at, channel, 'survey_tool',
       source_record_id, 'system', responded_at, handled_at, handled_by, handled_note
FROM demo_feedback
ORDER BY customer_id, responded_at, source_record_id
