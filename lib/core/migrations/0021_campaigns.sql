-- Campaigns with a control group (issue #18) and approved contact exports.
-- A campaign freezes its audience at launch (campaign_members: one row per member, holdout =
-- the randomly kept-out control group); contact_exports are the requests for a file with real
-- contact values, their approval and their expiry. No contact value is stored here: the file is
-- generated from the frozen members on each download (docs/security.md, "Contact exports").
-- Lake-compatible: literal defaults only, no ALTER ... SET NOT NULL.

CREATE SEQUENCE IF NOT EXISTS campaign_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS contact_export_id_seq START 1;

CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id     BIGINT PRIMARY KEY DEFAULT nextval('campaign_id_seq'),
    name            VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,            -- segment | winback
    segment_name    VARCHAR,                     -- the saved segment it came from, if any
    definition      JSON,                        -- the segment definition at draft time
    channel         VARCHAR NOT NULL,            -- sms | email | phone
    start_date      DATE NOT NULL,               -- first day of the campaign
    end_date        DATE NOT NULL,               -- last day messages go out
    eval_end        DATE NOT NULL,               -- last day of the evaluation window
    holdout_share   DOUBLE NOT NULL,             -- share of members kept out as control
    status          VARCHAR NOT NULL,            -- draft | launched
    created_by      VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    launched_by     VARCHAR,
    launched_at     TIMESTAMP
);

-- Members frozen at launch (a win-back draft holds its at-risk list from the start, holdout
-- NULL until launch). holdout = true: control group, never exported.
CREATE TABLE IF NOT EXISTS campaign_members (
    campaign_id   BIGINT NOT NULL,
    customer_id   BIGINT NOT NULL,
    holdout       BOOLEAN
);

CREATE TABLE IF NOT EXISTS contact_exports (
    export_id      BIGINT PRIMARY KEY DEFAULT nextval('contact_export_id_seq'),
    campaign_id    BIGINT NOT NULL,
    channel        VARCHAR NOT NULL,
    purpose        VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,             -- requested | approved | rejected
    requested_by   VARCHAR NOT NULL,
    requested_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    decided_by     VARCHAR,
    decided_at     TIMESTAMP,
    expires_at     TIMESTAMP,                    -- downloads refused from this instant on
    downloads      INTEGER DEFAULT 0,
    last_rows      INTEGER,
    last_sha256    VARCHAR
);
