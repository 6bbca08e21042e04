-- Entry rules stewards own (lib/entry_rules.py): per source and kind, which fields a row must
-- have and what a missing one does (quarantine the row, or load it with a quality flag), and
-- the source's default country. Append-only: every save is a new version, the latest one is
-- in force; source '*' holds the rules for sources that have none of their own.
CREATE TABLE IF NOT EXISTS entry_rules (
    source           VARCHAR NOT NULL,             -- a source name, or '*' (every other source)
    kind             VARCHAR NOT NULL CHECK (kind IN ('customers', 'orders', 'events')),
    version          INTEGER NOT NULL,
    required         JSON NOT NULL,                -- {field: "quarantine" | "flag"}
    default_country  VARCHAR,                      -- ISO 3166-1 alpha-2, customers only
    note             VARCHAR,
    saved_by         VARCHAR NOT NULL,
    saved_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (source, kind, version)
);
