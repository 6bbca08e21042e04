-- The 360° page reads one record's change history from the audit log, which only grows (every
-- login, view, export and change). Without an index that is a scan of the whole log: 32 ms per
-- customer at 3M audit rows, more than the rest of the page. An ART index on entity_id makes it
-- a point lookup (~2 ms); c360_details reads it through a materialised CTE filtered on
-- entity_id alone, because DuckDB only chooses an index scan for a plain equality on the
-- indexed column. The audit log is never updated or deleted from, so the index costs one
-- insert per audit row. (A lake has no indexes: lib/lake.py drops this statement there.)
CREATE INDEX IF NOT EXISTS audit_log_entity_id ON audit_log (entity_id);
