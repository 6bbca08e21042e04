-- Customer search by name, pinyin or company (issue #19): a trigram index instead of a scan
-- of every customer (lib/security/search_index.py; the queries in lib/core/sql/search_index.sql).
-- search_grams is derived from customers and kept in step by every write of a searched field
-- or of a customer's state (lib/security/search_index.refresh); it holds fragments of names, so
-- an erasure deletes the person's entries (lib/security/privacy.ERASURE_REGISTRY).
CREATE TABLE IF NOT EXISTS search_grams (
    gram         VARCHAR NOT NULL,   -- 3 characters of text (padded with chr(1) at its end)
    customer_id  BIGINT NOT NULL,
    text         VARCHAR NOT NULL    -- the lower-cased name, pinyin readings or company
);
-- Entries per gram, keyed by the gram's hash: which gram of a long entry is rarest.
CREATE TABLE IF NOT EXISTS search_gram_counts (
    gram_hash    UBIGINT NOT NULL,
    entries      BIGINT NOT NULL
);
-- Filled for the customers already here (about 20 s per million customers). The statement
-- repeats search_index_grams (lib/core/sql/search_index.sql) on purpose: a migration is a
-- snapshot of the schema it creates and must not change when the app's queries do.
INSERT INTO search_grams (gram, customer_id, text)
SELECT DISTINCT substr(s.text || chr(1) || chr(1), i.pos, 3) AS gram, s.customer_id, s.text
FROM (SELECT DISTINCT c.customer_id, t.text
      FROM customers AS c, unnest([lower(c.full_name), c.name_pinyin, lower(c.company)]) AS t(text)
      WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
        AND t.text IS NOT NULL AND t.text <> '') AS s,
     range(1, length(s.text) + 1) AS i(pos)
ORDER BY gram, s.customer_id;
INSERT INTO search_gram_counts (gram_hash, entries)
SELECT hash(gram), count(*) FROM search_grams GROUP BY 1 ORDER BY 1;
