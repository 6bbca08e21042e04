-- The customer search index (lib/security/search_index.py, migration 0023). search_grams holds,
-- for every live, not erased customer, each 3-character piece ("trigram") of the lower-cased
-- full name, the pinyin readings and the lower-cased company, with the text it came from.
-- Each text is padded with two chr(1) so that every character starts a gram: a text contains
-- an entry of 1-3 characters exactly when one of its grams starts with the entry.
-- Rows are written sorted by gram, so a lookup of one gram reads a few row groups (zonemaps).

-- name: search_index_grams
-- The padded trigrams of the searchable texts of the customers in `scope` (a CTE the including
-- statement defines), sorted by gram.
SELECT DISTINCT substr(s.text || chr(1) || chr(1), i.pos, 3) AS gram, s.customer_id, s.text
FROM (SELECT DISTINCT c.customer_id, t.text
      FROM scope AS c, unnest([lower(c.full_name), c.name_pinyin, lower(c.company)]) AS t(text)
      WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
        AND t.text IS NOT NULL AND t.text <> '') AS s,
     range(1, length(s.text) + 1) AS i(pos)
ORDER BY gram, s.customer_id

-- name: search_index_insert_ids
INSERT INTO search_grams (gram, customer_id, text)
WITH scope AS (SELECT * FROM customers WHERE customer_id IN (SELECT unnest(CAST(:ids AS BIGINT[]))))
{{search_index_grams}}

-- name: search_index_delete_ids
DELETE FROM search_grams WHERE customer_id IN (SELECT unnest(CAST(:ids AS BIGINT[])))

-- name: search_index_insert_range
-- A batch of imported customers: their ids come from the sequence, in one range.
INSERT INTO search_grams (gram, customer_id, text)
WITH scope AS (SELECT * FROM customers WHERE customer_id BETWEEN :lo AND :hi)
{{search_index_grams}}

-- name: search_index_delete_range
DELETE FROM search_grams WHERE customer_id BETWEEN :lo AND :hi

-- name: search_index_insert_all
INSERT INTO search_grams (gram, customer_id, text)
WITH scope AS (SELECT * FROM customers)
{{search_index_grams}}

-- name: search_index_clear
DELETE FROM search_grams

-- name: search_index_count_grams
-- How many entries each gram has (by its hash: no name fragments outside search_grams). Only
-- used to pick the rarest gram of a long entry, so it may lag behind small refreshes.
INSERT INTO search_gram_counts (gram_hash, entries)
SELECT hash(gram), count(*) FROM search_grams GROUP BY 1 ORDER BY 1

-- name: search_index_clear_counts
DELETE FROM search_gram_counts

-- name: search_index_erase
-- Erasure (lib/security/privacy.ERASURE_REGISTRY): the person's entries, whatever their state.
{{search_index_delete_ids}}

-- name: search_index_differences
-- Entries missing from the index and entries it should not hold, against a fresh derivation
-- (the index's self-check: tests, `lib.cli search check`).
WITH scope AS (SELECT * FROM customers),
fresh AS (SELECT gram, customer_id, text FROM ({{search_index_grams}})),
missing AS (SELECT * FROM fresh EXCEPT SELECT gram, customer_id, text FROM search_grams),
extra AS (SELECT gram, customer_id, text FROM search_grams EXCEPT SELECT * FROM fresh)
SELECT (SELECT count(*) FROM missing) AS missing, (SELECT count(*) FROM extra) AS extra,
       (SELECT list(DISTINCT customer_id ORDER BY customer_id)[1:20]
        FROM (SELECT customer_id FROM missing UNION ALL SELECT customer_id FROM extra)) AS customers

-- name: search_index_size
SELECT count(*) AS entries, count(DISTINCT customer_id) AS customers FROM search_grams

-- ---------------------------------------------------------------- search

-- name: search_match_page
-- One page of the live customers whose name, pinyin or company contains :needle (lower-cased),
-- with the number of matches. :needle of up to 3 characters: every gram that starts with it
-- (a range of the sorted index). Longer: the entries of its rarest gram (:grams, by
-- search_gram_counts; a gram not counted yet counts 0), then the needle itself in their text.
-- Exact matches first: a whole name or company as typed (张伟 before 张伟帆) or a whole pinyin
-- reading ('zhang wei', 'zhangwei', 'zw' before 'zhang wei fan'); then by id.
WITH rarest AS (
    SELECT g.gram FROM unnest(CAST(:grams AS VARCHAR[])) AS g(gram)
    LEFT JOIN search_gram_counts AS n ON n.gram_hash = hash(g.gram)
    ORDER BY coalesce(n.entries, 0), g.gram LIMIT 1),
matches AS MATERIALIZED (
    SELECT customer_id,
           bool_or(text = :needle OR contains('|' || text || '|', '|' || :needle || '|')) AS exact
    FROM search_grams
    WHERE CASE WHEN length(:needle) <= 3
               THEN gram >= :needle AND gram < :needle || chr(1114111)
               ELSE gram IN (SELECT gram FROM rarest) AND contains(text, :needle) END
    GROUP BY customer_id),
page AS (
    SELECT customer_id, exact FROM matches ORDER BY exact DESC, customer_id
    LIMIT :limit OFFSET :offset)
SELECT c.customer_id, c.full_name, c.company, c.mobile, c.email, c.province, c.city,
       c.customer_type, c.channel, c.lifecycle_stage, c.registered_at,
       (SELECT count(*) FROM matches) AS total
FROM customers AS c JOIN page USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL
ORDER BY page.exact DESC, c.customer_id
