-- Stewards: entry rules per source and kind (lib/entry_rules.py), append-only versions.

-- name: stw_entry_rules_latest
SELECT source, kind, version, CAST(required AS VARCHAR) AS required, default_country, note,
       saved_by, saved_at
FROM entry_rules
WHERE source = :source AND kind = :kind
ORDER BY version DESC LIMIT 1

-- name: stw_entry_rules_history
SELECT source, kind, version, CAST(required AS VARCHAR) AS required, default_country, note,
       saved_by, saved_at
FROM entry_rules
WHERE source = :source AND kind = :kind
ORDER BY version DESC

-- name: stw_entry_rules_sources
SELECT DISTINCT source FROM (
    SELECT source FROM entry_rules
    UNION ALL SELECT source FROM imports
    UNION ALL SELECT DISTINCT source FROM customers
) s WHERE source <> '*' ORDER BY source

-- name: stw_entry_rules_insert
INSERT INTO entry_rules (source, kind, version, required, default_country, note, saved_by)
VALUES (:source, :kind, :version, CAST(:required AS JSON), :default_country, :note, :saved_by)
