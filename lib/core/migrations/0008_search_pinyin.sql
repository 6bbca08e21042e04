-- Customer search: name_pinyin gains a third part, the syllables run together
-- ('zhang wei|zw' -> 'zhang wei|zw|zhangwei'), so that a search for "zhangwei" is one
-- substring test instead of a replace() of every customer's pinyin (see lib/sql/customers.sql).
UPDATE customers
SET name_pinyin = name_pinyin || '|' || replace(split_part(name_pinyin, '|', 1), ' ', '')
WHERE len(string_split(name_pinyin, '|')) = 2;
