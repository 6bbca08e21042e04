-- Privacy: the values an undo of a steward's edit needs, kept apart from the audit log.
--
-- audit_log is append-only and holds before/after of edits with every personal value masked
-- (lib/privacy.mask_for_audit), so erasing a person never has to rewrite it. The exact values
-- that undo_edit writes back live here, one row per edit (the record's version after it);
-- they are personal data, listed in lib/privacy.ERASURE_REGISTRY and deleted by an erasure.
CREATE TABLE IF NOT EXISTS customer_edit_values (
    customer_id  BIGINT NOT NULL,
    version      INTEGER NOT NULL,     -- customers.version right after the edit
    before       JSON NOT NULL,        -- changed columns before the edit (ID as token, hash, last4)
    after        JSON NOT NULL,
    PRIMARY KEY (customer_id, version)
);
