-- Named queries of the demo generator (lib/demo.py).

-- name: demo_draw_ids
-- Advance a sequence by :n and report the block it handed out.
SELECT min(v) AS lo, max(v) AS hi
FROM (SELECT nextval(CAST(:sequence AS VARCHAR)) AS v FROM range(CAST(:n AS BIGINT)))

-- name: demo_has_data
SELECT EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM orders)
    OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM consents)
    OR EXISTS (SELECT 1 FROM demo_ground_truth)

-- name: demo_table_columns
SELECT column_name FROM information_schema.columns WHERE table_name = :table
ORDER BY ordinal_position

-- name: warehouse_origin
-- Which tool made this warehouse ('demo' for the demo generator; NULL for lib.cli init).
SELECT value FROM warehouse_meta WHERE key = 'origin'

-- name: warehouse_mark_demo
-- Written by the demo generator in the transaction that loads the demo data.
INSERT INTO warehouse_meta (key, value)
SELECT 'origin', 'demo' WHERE NOT EXISTS (SELECT 1 FROM warehouse_meta WHERE key = 'origin')
