-- Facts about the warehouse itself, written by the tool that made it. `origin = 'demo'` is
-- written by the demo generator in the transaction that loads the demo data; `lib.cli demo
-- --if-missing` (run by `make run`) adds demo logins only to a warehouse that says so, never
-- to one made by `lib.cli init` and filled by imports.
CREATE TABLE IF NOT EXISTS warehouse_meta (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    written_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Demo warehouses built before this table existed are recognised by their ground truth,
-- which only the demo generator writes.
INSERT INTO warehouse_meta (key, value)
SELECT 'origin', 'demo'
WHERE EXISTS (SELECT 1 FROM demo_ground_truth)
  AND NOT EXISTS (SELECT 1 FROM warehouse_meta WHERE key = 'origin');
