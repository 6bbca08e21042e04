-- Alerts (issue #17, lib/admin/alerts.py) and the history of run-time settings (lib/admin/setting_changes.py).
--
-- An alert is raised by a rule (quality drop, churn rise, failed or overdue job, mass export,
-- ID-reveal burst, off-hours access, repeated failed logins, access by a disabled or idle account)
-- about a subject (a username, a job, a quality dimension). One open alert per rule and subject
-- within the de-duplication window: a repeat within it adds to `occurrences` and moves
-- `last_seen_at`. Acknowledging sets the status, who, when and a note (audited as alert.acknowledge).
-- `delivery` records what happened when the alert was sent to the configured SMTP server and/or
-- webhook ({"smtp": "sent" | "failed: ...", "webhook": ...}); a failure never breaks the action
-- that raised the alert. Lake-safe: literal defaults only, sequences and keys translated by lib/core/lake.
CREATE SEQUENCE IF NOT EXISTS alert_id_seq START 1;
CREATE TABLE IF NOT EXISTS alerts (
    alert_id         BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    rule             VARCHAR NOT NULL,      -- quality_drop, churn_rise, job_failed, job_overdue, mass_export, ...
    category         VARCHAR NOT NULL,      -- quality | marketing | operations | security (who may see it)
    severity         VARCHAR NOT NULL,      -- high | medium | low
    subject          VARCHAR NOT NULL,      -- a username, a job name, a quality dimension, high_risk_share
    raised_at        TIMESTAMP NOT NULL,
    last_seen_at     TIMESTAMP NOT NULL,
    occurrences      INTEGER NOT NULL DEFAULT 1,
    detail           JSON,                  -- measured value, threshold, window: figures, never customer data
    status           VARCHAR NOT NULL DEFAULT 'open',   -- open | acknowledged
    acknowledged_by  VARCHAR,
    acknowledged_at  TIMESTAMP,
    note             VARCHAR,               -- the acknowledging user's note
    delivery         JSON                   -- per channel: sent, or the error
);

-- Every change of a run-time setting (app_settings holds the value in force): who, when,
-- before and after. Written in the same transaction as the change and its audit row.
CREATE SEQUENCE IF NOT EXISTS setting_change_id_seq START 1;
CREATE TABLE IF NOT EXISTS settings_history (
    change_id   BIGINT PRIMARY KEY DEFAULT nextval('setting_change_id_seq'),
    key         VARCHAR NOT NULL,
    before      JSON,                       -- NULL: the default was in force
    after       JSON NOT NULL,
    changed_by  VARCHAR NOT NULL,
    changed_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
