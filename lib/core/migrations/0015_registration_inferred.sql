-- Unknown registration dates (issue #14): a customer file without registration dates used to
-- give every customer the import's clock time, so models "as of" any earlier day saw nobody.
-- registered_at may now be NULL (unknown); lib/registration.py fills it from the customer's
-- first known activity (order or event) after every load and marks the value as inferred.
-- (DuckDB refuses ALTER on a table that has CREATE INDEX entries: customers has none.)
-- On a lake, DuckLake takes only a literal default when adding a column ('false', not FALSE)
-- and cannot SET NOT NULL on an existing column, so the flag is defaulted, not constrained.
ALTER TABLE customers ALTER COLUMN registered_at DROP NOT NULL;
ALTER TABLE customers ADD COLUMN IF NOT EXISTS registered_inferred BOOLEAN DEFAULT 'false';
UPDATE customers SET registered_inferred = FALSE WHERE registered_inferred IS NULL;
