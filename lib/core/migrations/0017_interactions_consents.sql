-- Interactions and bulk consents (issue #16, items 3 and 5).
--
-- interactions: one row per call, visit, email, chat, complaint, consult or note a member of
-- staff logged (source 'app') or an import loaded (source = the import's source name, with
-- that system's own key, so a re-import adds nothing). Complaints and consults that arrived
-- as events stay in events; the 360° timeline shows both. `owner` is an app username;
-- `follow_up_on` is the day the owner promised to come back, `follow_up_done_at` when they did.
-- `note` is free text and may name people: lib/security/privacy.py ERASURE_REGISTRY clears it.
CREATE SEQUENCE IF NOT EXISTS interaction_id_seq START 1;

CREATE TABLE IF NOT EXISTS interactions (
    interaction_id     BIGINT PRIMARY KEY DEFAULT nextval('interaction_id_seq'),
    customer_id        BIGINT NOT NULL,
    interaction_type   VARCHAR NOT NULL CHECK (interaction_type IN ('call', 'visit', 'email', 'chat', 'complaint', 'consult', 'note')),
    channel            VARCHAR,                 -- phone, store, email, wechat, web, app, other
    outcome            VARCHAR CHECK (outcome IN ('resolved', 'follow_up', 'no_answer', 'informed', 'escalated', 'other')),
    occurred_at        TIMESTAMP NOT NULL,
    owner              VARCHAR NOT NULL,        -- app username responsible for it
    note               VARCHAR,                 -- free text (personal data: erased on request)
    follow_up_on       DATE,
    follow_up_done_at  TIMESTAMP,
    follow_up_done_by  VARCHAR,
    source             VARCHAR NOT NULL,        -- 'app' or the import source
    source_record_id   VARCHAR,                 -- that source's key (imports), NULL for 'app'
    import_id          BIGINT,
    created_by         VARCHAR NOT NULL,
    created_at         TIMESTAMP NOT NULL
);

-- Where a consent came from in writing (a form's number, a recording's reference, a file):
-- free text that may name people, so erasure clears it. The consent rows themselves stay.
ALTER TABLE consents ADD COLUMN IF NOT EXISTS evidence VARCHAR;

-- New import kinds: the imports table is rebuilt with a wider CHECK (DuckDB cannot drop or
-- change a CHECK constraint in place). 'feedback' is allowed for issue #16 item 4.
CREATE TABLE imports_0017 AS SELECT * FROM imports;
DROP TABLE imports;
CREATE TABLE imports (
    import_id          BIGINT PRIMARY KEY DEFAULT nextval('import_id_seq'),
    kind               VARCHAR NOT NULL CHECK (kind IN ('customers', 'orders', 'events', 'consents', 'interactions', 'feedback')),
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
INSERT INTO imports SELECT import_id, kind, source, file_name, file_sha256, username, started_at, finished_at,
    rows_total, rows_loaded, rows_unchanged, rows_quarantined, rows_flagged, status FROM imports_0017;
DROP TABLE imports_0017;
