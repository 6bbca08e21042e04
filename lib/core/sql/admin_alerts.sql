-- Alerts (lib/admin/alerts.py, lib/admin/notify.py) and the settings history
-- (lib/admin/setting_changes.py). Audit-log reads are bounded by time first (occurred_at grows
-- with audit_id, so DuckDB skips every row group older than the window by its min/max) and then
-- by user and action: no rule reads the whole log.

-- name: settings_history_insert
INSERT INTO settings_history (key, before, after, changed_by, changed_at)
VALUES (:key, CAST(:before AS JSON), CAST(:after AS JSON), :changed_by, current_timestamp)

-- name: settings_history_recent
SELECT change_id, changed_at, changed_by, key, before, after
FROM settings_history
WHERE CAST(:key AS VARCHAR) IS NULL OR key = :key
ORDER BY change_id DESC
LIMIT :limit

-- name: settings_stored
SELECT key, updated_by, updated_at FROM app_settings

-- name: alerts_open_for
SELECT alert_id, occurrences FROM alerts
WHERE rule = :rule AND subject = :subject AND status = 'open' AND last_seen_at >= CAST(:since AS TIMESTAMP)
ORDER BY alert_id DESC
LIMIT 1

-- name: alerts_bump
UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = CAST(:at AS TIMESTAMP), detail = CAST(:detail AS JSON)
WHERE alert_id = :alert_id

-- name: alerts_insert
INSERT INTO alerts (rule, category, severity, subject, raised_at, last_seen_at, occurrences, detail, status)
VALUES (:rule, :category, :severity, :subject, CAST(:at AS TIMESTAMP), CAST(:at AS TIMESTAMP), 1, CAST(:detail AS JSON), 'open')
RETURNING alert_id

-- name: alerts_set_delivery
UPDATE alerts SET delivery = CAST(:delivery AS JSON) WHERE alert_id = :alert_id

-- name: alerts_by_id
SELECT alert_id, rule, category, severity, subject, raised_at, last_seen_at, occurrences, detail, status,
       acknowledged_by, acknowledged_at, note, delivery
FROM alerts WHERE alert_id = :alert_id

-- name: alerts_list
SELECT alert_id, raised_at, last_seen_at, severity, category, rule, subject, occurrences, status, detail,
       acknowledged_by, acknowledged_at, note, delivery
FROM alerts
WHERE (NOT CAST(:quality_only AS BOOLEAN) OR category = 'quality')
  AND (CAST(:status AS VARCHAR) IS NULL OR status = CAST(:status AS VARCHAR))
ORDER BY alert_id DESC
LIMIT :limit

-- name: alerts_acknowledge
UPDATE alerts SET status = 'acknowledged', acknowledged_by = :username, acknowledged_at = current_timestamp, note = :note
WHERE alert_id = :alert_id AND status = 'open'

-- Rows one user exported or downloaded since a time (audit detail: rows; dedup pairs and
-- cluster rows; one subject per data-subject export).
-- name: alerts_rows_exported
SELECT count(*) AS exports,
       coalesce(sum(CASE action
           WHEN 'dedup.export' THEN coalesce(TRY_CAST(json_extract_string(detail, '$.pairs') AS BIGINT), 0)
                                  + coalesce(TRY_CAST(json_extract_string(detail, '$.cluster_rows') AS BIGINT), 0)
           WHEN 'privacy.export' THEN 1
           ELSE coalesce(TRY_CAST(json_extract_string(detail, '$.rows') AS BIGINT), 0) END), 0) AS exported_rows
FROM audit_log
WHERE occurred_at >= CAST(:since AS TIMESTAMP)
  AND username = :username
  AND action IN ('download', 'audience.export', 'audit.export', 'dedup.export', 'churn.export', 'clv.export', 'privacy.export')

-- name: alerts_action_count
SELECT count(*) FROM audit_log
WHERE occurred_at >= CAST(:since AS TIMESTAMP) AND username = :username AND action = :action

-- The account and its activity before the login just made: the last use of any session but the
-- newest (which that login opened).
-- name: alerts_activity_before
SELECT u.username, u.disabled, u.created_at,
       (SELECT max(s.last_seen) FROM (
            SELECT last_seen, row_number() OVER (ORDER BY created_at DESC, last_seen DESC) AS newest
            FROM app_sessions WHERE username = :username) s
        WHERE s.newest > 1) AS last_seen
FROM app_users u
WHERE u.username = :username

-- name: alerts_audit_between
SELECT occurred_at, username, roles, action, entity, entity_id
FROM audit_log
WHERE occurred_at >= CAST(:since AS TIMESTAMP) AND occurred_at < CAST(:until AS TIMESTAMP)
ORDER BY audit_id

-- name: alerts_quality_last_two_runs
SELECT run_id, overall_score FROM quality_runs
WHERE finished_at IS NOT NULL
ORDER BY run_id DESC
LIMIT 2

-- Per dimension, the severity-weighted mean of rule scores (as lib/stewardship/quality.py's
-- scorecard: high 3, medium 2, low 1; a test compares the two).
-- name: alerts_quality_dimension_scores
WITH per_rule AS (
    SELECT dimension, rule_id, any_value(severity) AS severity, sum(checked) AS checked, sum(failed) AS failed
    FROM quality_results
    WHERE run_id = :run_id
    GROUP BY dimension, rule_id
    HAVING sum(checked) > 0
)
SELECT dimension,
       sum((1 - failed / checked) * CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
         / sum(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) AS score
FROM per_rule
GROUP BY dimension
ORDER BY dimension

-- name: alerts_churn_high_share
SELECT count(*) AS scored, count(*) FILTER (WHERE risk_tier = 'high') AS high FROM churn_scores

-- The two latest churn scorings' audit entries (their tier counts).
-- name: alerts_churn_scorings
SELECT audit_id, occurred_at, detail FROM audit_log
WHERE action = 'churn.score'
ORDER BY audit_id DESC
LIMIT 2

-- name: alerts_counts
SELECT count(*) FILTER (WHERE status = 'open') AS open,
       count(*) FILTER (WHERE status = 'open' AND severity = 'high') AS high,
       count(*) FILTER (WHERE status = 'acknowledged') AS acknowledged
FROM alerts
WHERE NOT CAST(:quality_only AS BOOLEAN) OR category = 'quality'
