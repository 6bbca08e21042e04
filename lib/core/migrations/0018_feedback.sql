-- Customer feedback (issue #16 item 4): survey responses with a score on a known scale, imported
-- (import kind 'feedback', lib/stewardship/importer.py) or entered by hand by staff
-- (lib/stewardship/feedback.py). NPS and CSAT are defined in docs/metrics.md.
--   scale 'nps'  : 0..10 ("How likely are you to recommend us?")
--   scale 'csat' : 1..5  ("How satisfied were you?")
-- A re-import adds nothing: (source, source_record_id) identifies a response. Hand-entered
-- responses have source 'manual' and a generated key. handled_* is the steward's follow-up of
-- a detractor (the worklist on the Feedback page), audited as 'feedback.handle'.
-- The comment and the steward's note are free text that can hold personal data: both are in
-- lib/security/privacy.ERASURE_REGISTRY.
CREATE SEQUENCE IF NOT EXISTS feedback_id_seq START 1;

CREATE TABLE IF NOT EXISTS feedback (
    feedback_id       BIGINT PRIMARY KEY DEFAULT nextval('feedback_id_seq'),
    customer_id       BIGINT NOT NULL,
    survey            VARCHAR NOT NULL,
    scale             VARCHAR NOT NULL CHECK (scale IN ('nps', 'csat')),
    score             INTEGER NOT NULL,
    comment           VARCHAR,
    responded_at      TIMESTAMP NOT NULL,
    channel           VARCHAR,
    source            VARCHAR NOT NULL,
    source_record_id  VARCHAR NOT NULL,
    import_id         BIGINT,
    recorded_by       VARCHAR NOT NULL,
    recorded_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    handled_at        TIMESTAMP,
    handled_by        VARCHAR,
    handled_note      VARCHAR
);

-- imports.kind was CHECKed against ('customers', 'orders', 'events'); DuckDB cannot drop or
-- change a CHECK constraint, so the table is rebuilt with the same columns and no CHECK on
-- kind (the importer accepts only lib/stewardship/importer.KINDS). Rows and ids are kept; the
-- sequence import_id_seq is untouched. (On a lake constraints are not enforced anyway.)
CREATE TABLE IF NOT EXISTS imports_0018 AS SELECT * FROM imports;
DROP TABLE imports;
CREATE TABLE imports (
    import_id          BIGINT PRIMARY KEY DEFAULT nextval('import_id_seq'),
    kind               VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    file_name          VARCHAR,
    file_sha256        VARCHAR,
    username           VARCHAR NOT NULL,
    started_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at        TIMESTAMP,
    rows_total         INTEGER NOT NULL DEFAULT 0,
    rows_loaded        INTEGER NOT NULL DEFAULT 0,
    rows_unchanged     INTEGER NOT NULL DEFAULT 0,
    rows_quarantined   INTEGER NOT NULL DEFAULT 0,
    rows_flagged       INTEGER NOT NULL DEFAULT 0,
    status             VARCHAR NOT NULL DEFAULT 'running'
);
INSERT INTO imports (import_id, kind, source, file_name, file_sha256, username, started_at, finished_at,
                     rows_total, rows_loaded, rows_unchanged, rows_quarantined, rows_flagged, status)
SELECT import_id, kind, source, file_name, file_sha256, username, started_at, finished_at,
       rows_total, rows_loaded, rows_unchanged, rows_quarantined, rows_flagged, status
FROM imports_0018;
DROP TABLE imports_0018;
