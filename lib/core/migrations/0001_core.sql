-- Core schema: customers and what hangs off them, users, audit, imports and quarantine.
-- Identifiers come from sequences. Big tables (orders, events) carry no index on purpose:
-- DuckDB scans them by row-group zone maps, and ART indexes cost more memory than they save.

CREATE SEQUENCE IF NOT EXISTS customer_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS order_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS event_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS consent_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS audit_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS import_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS quarantine_id_seq START 1;

CREATE TABLE IF NOT EXISTS customers (
    customer_id       BIGINT PRIMARY KEY,
    source            VARCHAR NOT NULL,              -- system the record came from (crm, shop, import name)
    source_record_id  VARCHAR NOT NULL,              -- that system's own key
    family_name       VARCHAR,
    given_name        VARCHAR,
    full_name         VARCHAR,                       -- display order per culture: 张伟 / Anna Smith
    name_pinyin       VARCHAR,                       -- 'zhang wei|zw|zhangwei' (lib/normalize.pinyin); lower-case latin
    gender            VARCHAR CHECK (gender IN ('M', 'F', 'U')),
    birth_date        DATE,
    mobile            VARCHAR,                       -- E.164, e.g. +8613812345678
    email             VARCHAR,                       -- normalised (lower-case domain)
    id_number_enc     VARCHAR,                       -- resident-ID number, Fernet-encrypted
    id_number_hash    VARCHAR,                       -- keyed hash (HMAC) for exact match without decrypting
    id_number_last4   VARCHAR,                       -- for masked display only
    country           VARCHAR NOT NULL DEFAULT 'CN', -- ISO 3166-1 alpha-2
    province          VARCHAR,
    city              VARCHAR,
    district          VARCHAR,
    address           VARCHAR,
    postcode          VARCHAR,
    customer_type     VARCHAR NOT NULL DEFAULT 'B2C' CHECK (customer_type IN ('B2B', 'B2C')),
    company           VARCHAR,
    industry          VARCHAR,
    job_title         VARCHAR,
    uscc              VARCHAR,                       -- unified social credit code of the company (B2B)
    channel           VARCHAR NOT NULL,              -- acquisition channel: web, app, wechat, store, ...
    registered_at     TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    verified_at       TIMESTAMP,                     -- last time a person confirmed the record
    lifecycle_stage   VARCHAR CHECK (lifecycle_stage IN ('prospect', 'intent', 'customer', 'repeat', 'churned')),
    churn_reason      VARCHAR,
    raw_values        JSON,                          -- raw input of fields that failed validation
    version           INTEGER NOT NULL DEFAULT 1,    -- optimistic concurrency: bumped on every edit
    merged_into       BIGINT,                        -- survivor's id once merged
    deleted_at        TIMESTAMP,
    erased_at         TIMESTAMP,                     -- personal fields anonymised (data-subject request)
    UNIQUE (source, source_record_id)
);

CREATE TABLE IF NOT EXISTS consents (
    consent_id   BIGINT PRIMARY KEY DEFAULT nextval('consent_id_seq'),
    customer_id  BIGINT NOT NULL,
    channel      VARCHAR NOT NULL CHECK (channel IN ('sms', 'email', 'phone')),
    status       VARCHAR NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    source       VARCHAR NOT NULL,                  -- where it was captured: signup form, store, call centre
    recorded_at  TIMESTAMP NOT NULL,
    recorded_by  VARCHAR                            -- user or system
);

CREATE TABLE IF NOT EXISTS orders (
    order_id          BIGINT NOT NULL,
    customer_id       BIGINT NOT NULL,
    source            VARCHAR NOT NULL,
    source_record_id  VARCHAR NOT NULL,
    order_time        TIMESTAMP NOT NULL,
    status            VARCHAR NOT NULL CHECK (status IN ('paid', 'refunded', 'partially_refunded', 'cancelled')),
    amount            DECIMAL(12, 2) NOT NULL,      -- gross amount paid, CNY
    refund_amount     DECIMAL(12, 2) NOT NULL DEFAULT 0,
    channel           VARCHAR,
    category          VARCHAR,
    item_count        INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS events (
    event_id          BIGINT NOT NULL,
    customer_id       BIGINT NOT NULL,
    event_type        VARCHAR NOT NULL CHECK (event_type IN ('browse', 'add_to_cart', 'purchase', 'consult', 'complaint', 'return')),
    event_time        TIMESTAMP NOT NULL,
    channel           VARCHAR,
    category          VARCHAR,
    amount            DECIMAL(12, 2),
    order_id          BIGINT,
    source            VARCHAR,
    source_record_id  VARCHAR,
    note              VARCHAR                       -- free text of consults and complaints
);

CREATE TABLE IF NOT EXISTS tags (
    customer_id  BIGINT NOT NULL,
    tag          VARCHAR NOT NULL,
    created_by   VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (customer_id, tag)
);

CREATE TABLE IF NOT EXISTS app_users (
    username             VARCHAR PRIMARY KEY,
    display_name         VARCHAR NOT NULL,
    email                VARCHAR,
    password_hash        VARCHAR NOT NULL,           -- bcrypt
    roles                VARCHAR[] NOT NULL,
    disabled             BOOLEAN NOT NULL DEFAULT false,
    failed_attempts      INTEGER NOT NULL DEFAULT 0,
    locked_until         TIMESTAMP,
    last_login           TIMESTAMP,
    last_activity        TIMESTAMP,
    created_at           TIMESTAMP NOT NULL DEFAULT current_timestamp,
    password_changed_at  TIMESTAMP
);

-- Append-only: lib/audit.py is the only writer and has no update or delete path.
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id   BIGINT PRIMARY KEY DEFAULT nextval('audit_id_seq'),
    occurred_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    username   VARCHAR NOT NULL,
    roles      VARCHAR,
    action     VARCHAR NOT NULL,                    -- e.g. login, customer.update, pii.reveal, export
    entity     VARCHAR,                             -- customer, user, segment, backup ...
    entity_id  VARCHAR,
    before     JSON,
    after      JSON,
    detail     JSON                                 -- reason, row counts, filters ...
);

CREATE TABLE IF NOT EXISTS imports (
    import_id          BIGINT PRIMARY KEY DEFAULT nextval('import_id_seq'),
    kind               VARCHAR NOT NULL CHECK (kind IN ('customers', 'orders', 'events')),
    source             VARCHAR NOT NULL,
    file_name          VARCHAR,
    file_sha256        VARCHAR,
    username           VARCHAR NOT NULL,
    started_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at        TIMESTAMP,
    rows_total         INTEGER NOT NULL DEFAULT 0,
    rows_loaded        INTEGER NOT NULL DEFAULT 0,
    rows_unchanged     INTEGER NOT NULL DEFAULT 0,   -- already present (re-import)
    rows_quarantined   INTEGER NOT NULL DEFAULT 0,
    rows_flagged       INTEGER NOT NULL DEFAULT 0,   -- loaded with an invalid optional field emptied
    status             VARCHAR NOT NULL DEFAULT 'running'
);

CREATE TABLE IF NOT EXISTS quarantine (
    quarantine_id     BIGINT PRIMARY KEY DEFAULT nextval('quarantine_id_seq'),
    import_id         BIGINT,
    kind              VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    source_record_id  VARCHAR,
    row_no            INTEGER,
    raw               JSON NOT NULL,                 -- the row as it arrived
    reasons           JSON NOT NULL,                 -- [{field, code, message}]
    status            VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'released', 'discarded')),
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    resolved_at       TIMESTAMP,
    resolved_by       VARCHAR
);

-- What the demo generator injected on purpose, so quality rules and de-duplication can be scored.
CREATE TABLE IF NOT EXISTS demo_ground_truth (
    customer_id   BIGINT NOT NULL,
    defect        VARCHAR NOT NULL,   -- duplicate, invalid_email, invalid_mobile, missing_required, impossible_date, stale
    field         VARCHAR,
    detail        VARCHAR,
    duplicate_of  BIGINT              -- for duplicates: the original customer
);

-- Small settings that admins change at run time (churn window, stale months, retention ...).
CREATE TABLE IF NOT EXISTS app_settings (
    key         VARCHAR PRIMARY KEY,
    value       JSON NOT NULL,
    updated_by  VARCHAR,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
