-- The Customer 360 page reads one customer's tags, consents and open quality flags. These
-- tables are stored sorted by customer_id, so DuckDB skips every row group but one, and then
-- filters that one (122,880 rows): ~0.3-0.5 ms per table, a tenth of the page's budget. An
-- ART index on customer_id makes each a point lookup; a customer has a handful of these rows.
-- Orders and events get no index on purpose: DuckDB fetches index hits row by row (~45 us a
-- row), so a customer with thousands of events took 224 ms instead of 40 ms by sorted scan.
-- Measured on the aged 1M-customer benchmark warehouse; see docs/benchmarks.md. DuckDB uses an
-- index only for a plain equality on the indexed column, which is why c360_details reads the
-- quality flags through a CTE filtered on customer_id alone. Merges move tags and consents
-- with UPDATE ... SET customer_id, which DuckDB runs as a delete and an insert in the index.
-- (A lake has no indexes: lib/lake.py drops these statements there.)
CREATE INDEX IF NOT EXISTS tags_customer_id ON tags (customer_id);
CREATE INDEX IF NOT EXISTS consents_customer_id ON consents (customer_id);
CREATE INDEX IF NOT EXISTS quality_flags_customer_id ON quality_flags (customer_id);
