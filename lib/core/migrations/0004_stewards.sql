-- Data stewardship: quality runs and their history, open flags per customer, saved import
-- mappings, duplicate candidates and clusters, merges with what they moved (for exact undo).

CREATE SEQUENCE IF NOT EXISTS quality_run_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS quality_flag_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS dedup_run_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS dedup_pair_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS merge_id_seq START 1;

-- One row per quality run; the scorecard's trend reads overall_score across runs.
CREATE TABLE IF NOT EXISTS quality_runs (
    run_id          BIGINT PRIMARY KEY DEFAULT nextval('quality_run_id_seq'),
    started_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMP,
    username        VARCHAR NOT NULL,
    customers       BIGINT NOT NULL DEFAULT 0,     -- live customers checked
    overall_score   DOUBLE,                        -- severity-weighted mean of rule scores, 0..1
    seconds         DOUBLE
);

-- Per run, per rule, per source and acquisition channel: how many records were checked and failed.
CREATE TABLE IF NOT EXISTS quality_results (
    run_id     BIGINT NOT NULL,
    rule_id    VARCHAR NOT NULL,
    dimension  VARCHAR NOT NULL,
    severity   VARCHAR NOT NULL,
    field      VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    channel    VARCHAR NOT NULL,
    checked    BIGINT NOT NULL,
    failed     BIGINT NOT NULL
);

-- Everything a steward must look at for one customer. kind: rule (a quality rule fails),
-- import (an optional field was emptied at import; raw value in customers.raw_values),
-- duplicate (a candidate pair, pair_id set). Verified/ignored flags remember the record version
-- they were decided on, so the same finding is not raised again until the record changes.
CREATE TABLE IF NOT EXISTS quality_flags (
    flag_id           BIGINT PRIMARY KEY DEFAULT nextval('quality_flag_id_seq'),
    customer_id       BIGINT NOT NULL,
    kind              VARCHAR NOT NULL CHECK (kind IN ('rule', 'import', 'duplicate')),
    rule_id           VARCHAR NOT NULL,            -- quality rule id, or import.<field>, or dedup
    field             VARCHAR,
    severity          VARCHAR NOT NULL CHECK (severity IN ('high', 'medium', 'low')),
    detail            JSON,
    pair_id           BIGINT,
    status            VARCHAR NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'resolved', 'verified', 'ignored', 'merged')),
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    run_id            BIGINT,
    import_id         BIGINT,
    resolved_at       TIMESTAMP,
    resolved_by       VARCHAR,
    reason            VARCHAR,
    decided_version   INTEGER                      -- customers.version when verified/ignored
);

-- Column mappings saved from the import page (also usable as JSON files from the CLI).
CREATE TABLE IF NOT EXISTS import_mappings (
    name        VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    mapping     JSON NOT NULL,
    saved_by    VARCHAR NOT NULL,
    saved_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- A trained splink model (settings JSON with m/u), reused for incremental matching.
CREATE TABLE IF NOT EXISTS dedup_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('dedup_run_id_seq'),
    started_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at   TIMESTAMP,
    username      VARCHAR NOT NULL,
    mode          VARCHAR NOT NULL,                -- full or incremental
    records       BIGINT,
    pairs         BIGINT,
    threshold     DOUBLE,
    model         JSON,
    seconds       DOUBLE
);

CREATE TABLE IF NOT EXISTS dedup_candidates (
    pair_id            BIGINT PRIMARY KEY DEFAULT nextval('dedup_pair_id_seq'),
    run_id             BIGINT NOT NULL,
    customer_id_l      BIGINT NOT NULL,            -- always the smaller id
    customer_id_r      BIGINT NOT NULL,
    match_probability  DOUBLE NOT NULL,
    match_weight       DOUBLE NOT NULL,
    agreement          JSON NOT NULL,              -- {field: {level, label}} per comparison
    status             VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'rejected')),
    created_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    resolved_at        TIMESTAMP,
    resolved_by        VARCHAR
);

CREATE TABLE IF NOT EXISTS dedup_clusters (
    run_id       BIGINT NOT NULL,
    cluster_id   BIGINT NOT NULL,                  -- smallest customer_id in the cluster
    customer_id  BIGINT NOT NULL
);

-- One row per merge. The survivor's and the merged record's rows as they were before the merge
-- live in merge_customer_snapshots; the ids of every child row that moved live here.
CREATE TABLE IF NOT EXISTS merges (
    merge_id          BIGINT PRIMARY KEY DEFAULT nextval('merge_id_seq'),
    survivor_id       BIGINT NOT NULL,
    merged_id         BIGINT NOT NULL,
    pair_id           BIGINT,
    choices           JSON NOT NULL,               -- field -> 'survivor' | 'merged'
    moved             JSON NOT NULL,               -- {orders: [...], events: [...], consents: [...], tags: [...], tags_dropped: [...], flags: [...]}
    survivor_version  INTEGER NOT NULL,            -- survivor version right after the merge
    merged_by         VARCHAR NOT NULL,
    merged_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    undone_at         TIMESTAMP,
    undone_by         VARCHAR
);

-- Same columns as customers (0001), typed, so that undo writes back exactly the stored values.
CREATE TABLE IF NOT EXISTS merge_customer_snapshots (
    merge_id          BIGINT NOT NULL,
    role              VARCHAR NOT NULL CHECK (role IN ('survivor', 'merged')),
    customer_id       BIGINT NOT NULL,
    source            VARCHAR,
    source_record_id  VARCHAR,
    family_name       VARCHAR,
    given_name        VARCHAR,
    full_name         VARCHAR,
    name_pinyin       VARCHAR,
    gender            VARCHAR,
    birth_date        DATE,
    mobile            VARCHAR,
    email             VARCHAR,
    id_number_enc     VARCHAR,
    id_number_hash    VARCHAR,
    id_number_last4   VARCHAR,
    country           VARCHAR,
    province          VARCHAR,
    city              VARCHAR,
    district          VARCHAR,
    address           VARCHAR,
    postcode          VARCHAR,
    customer_type     VARCHAR,
    company           VARCHAR,
    industry          VARCHAR,
    job_title         VARCHAR,
    uscc              VARCHAR,
    channel           VARCHAR,
    registered_at     TIMESTAMP,
    updated_at        TIMESTAMP,
    verified_at       TIMESTAMP,
    lifecycle_stage   VARCHAR,
    churn_reason      VARCHAR,
    raw_values        JSON,
    version           INTEGER,
    merged_into       BIGINT,
    deleted_at        TIMESTAMP,
    erased_at         TIMESTAMP
);
