-- Category preferences, the "next category to offer" recommender, category analytics and the
-- revenue outlook (issue #18). A purchase is a kept order (paid or partially refunded) of a
-- live customer; its value is amount - refund_amount. "Before the cutoff" = strictly before
-- as_of + 1 day.

-- name: category_purchases
-- Kept orders with a category per live customer and category before the cutoff.
SELECT o.customer_id, o.category, count(*) AS n, sum(o.amount - o.refund_amount) AS net
FROM orders o
JOIN customers c USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
  AND o.status IN ('paid', 'partially_refunded') AND o.category IS NOT NULL
  AND o.order_time < CAST(:cutoff AS TIMESTAMP)
GROUP BY ALL

-- name: category_similarity_rows
-- Item-to-item co-purchase similarity: cosine over the binary customers x categories-bought
-- matrix, |buyers of a and b| / sqrt(|buyers of a| * |buyers of b|) (1 on the diagonal).
WITH cp AS ({{category_purchases}}),
buyers AS (SELECT category, count(*) AS buyers FROM cp GROUP BY category),
pairs AS (
    SELECT a.category AS category_a, b.category AS category_b, count(*) AS buyers_both
    FROM cp a JOIN cp b USING (customer_id)
    GROUP BY ALL
)
SELECT p.category_a, p.category_b, p.buyers_both,
       p.buyers_both / sqrt(x.buyers * y.buyers) AS similarity
FROM pairs p
JOIN buyers x ON x.category = p.category_a
JOIN buyers y ON y.category = p.category_b

-- name: preferences_stage_purchases
-- The refresh computes category_purchases once (the similarity and the preferences read it).
CREATE OR REPLACE TEMP TABLE pref_purchases AS {{category_purchases}}

-- name: preferences_drop_stage
DROP TABLE IF EXISTS pref_purchases

-- name: category_similarity_staged
-- category_similarity_rows over the staged purchases.
WITH cp AS (SELECT * FROM pref_purchases),
buyers AS (SELECT category, count(*) AS buyers FROM cp GROUP BY category),
pairs AS (
    SELECT a.category AS category_a, b.category AS category_b, count(*) AS buyers_both
    FROM cp a JOIN cp b USING (customer_id)
    GROUP BY ALL
)
SELECT p.category_a, p.category_b, p.buyers_both,
       p.buyers_both / sqrt(x.buyers * y.buyers) AS similarity
FROM pairs p
JOIN buyers x ON x.category = p.category_a
JOIN buyers y ON y.category = p.category_b

-- name: category_similarity_delete
DELETE FROM category_similarity

-- name: category_similarity_insert
INSERT INTO category_similarity (category_a, category_b, buyers_both, similarity)
{{category_similarity_staged}}

-- name: category_similarity_all
SELECT category_a, category_b, buyers_both, similarity
FROM category_similarity ORDER BY category_a, similarity DESC, category_b

-- name: preferences_delete
DELETE FROM customer_preferences

-- name: preferences_insert
-- One row per live customer with a purchase or a browse/cart event in the window. The scores
-- of the next category read category_similarity (refreshed just before, same cutoff):
-- score(customer, j) = sum over categories i the customer bought of orders(i) * similarity(i, j).
INSERT INTO customer_preferences (customer_id, as_of, window_days, favourite_category, categories_bought,
                                  browsed_not_bought, kept_orders, mean_order_value, price_level,
                                  next_category, refreshed_at)
WITH cp AS (SELECT * FROM pref_purchases),
fav AS (  -- most orders, then more net revenue, then the name (a hash aggregate, no sort)
    SELECT customer_id, arg_min(category, (-n, -net, category)) AS favourite_category
    FROM cp GROUP BY customer_id
),
bought AS (
    SELECT customer_id, list_sort(list(category)) AS categories_bought, sum(n) AS kept_orders,
           sum(net) / sum(n) AS mean_order_value
    FROM cp GROUP BY customer_id
),
medians AS (
    SELECT o.category, median(o.amount - o.refund_amount) AS median_value
    FROM orders o
    JOIN customers c USING (customer_id)
    WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
      AND o.status IN ('paid', 'partially_refunded') AND o.category IS NOT NULL
      AND o.order_time < CAST(:cutoff AS TIMESTAMP)
    GROUP BY o.category
),
window_buys AS (
    SELECT DISTINCT customer_id, category FROM orders
    WHERE status IN ('paid', 'partially_refunded') AND category IS NOT NULL
      AND order_time >= CAST(:window_start AS TIMESTAMP) AND order_time < CAST(:cutoff AS TIMESTAMP)
),
looks AS (
    SELECT DISTINCT customer_id, category FROM events
    WHERE event_type IN ('browse', 'add_to_cart') AND category IS NOT NULL
      AND event_time >= CAST(:window_start AS TIMESTAMP) AND event_time < CAST(:cutoff AS TIMESTAMP)
),
bnb AS (
    SELECT l.customer_id, list_sort(list(l.category)) AS browsed_not_bought
    FROM looks l ANTI JOIN window_buys w ON w.customer_id = l.customer_id AND w.category = l.category
    GROUP BY l.customer_id
),
scores AS (
    SELECT cp.customer_id, s.category_b AS category, sum(cp.n * s.similarity) AS score
    FROM cp JOIN category_similarity s ON s.category_a = cp.category
    GROUP BY ALL
),
nxt AS (
    SELECT customer_id, arg_min(category, (-score, category)) AS next_category
    FROM scores GROUP BY customer_id
),
people AS (SELECT customer_id FROM bought UNION SELECT customer_id FROM bnb)
SELECT p.customer_id, CAST(:as_of AS DATE), CAST(:window_days AS INTEGER), f.favourite_category,
       coalesce(b.categories_bought, CAST([] AS VARCHAR[])),
       coalesce(x.browsed_not_bought, CAST([] AS VARCHAR[])),
       coalesce(b.kept_orders, 0), b.mean_order_value,
       CASE WHEN b.mean_order_value IS NULL OR m.median_value IS NULL OR m.median_value <= 0 THEN NULL
            WHEN b.mean_order_value < CAST(:low_ratio AS DOUBLE) * m.median_value THEN 'low'
            WHEN b.mean_order_value > CAST(:high_ratio AS DOUBLE) * m.median_value THEN 'high'
            ELSE 'mid' END,
       n.next_category, current_timestamp
FROM people p
JOIN customers c ON c.customer_id = p.customer_id
LEFT JOIN bought b ON b.customer_id = p.customer_id
LEFT JOIN fav f ON f.customer_id = p.customer_id
LEFT JOIN medians m ON m.category = f.favourite_category
LEFT JOIN bnb x ON x.customer_id = p.customer_id
LEFT JOIN nxt n ON n.customer_id = p.customer_id
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL

-- name: preferences_count
SELECT count(*) FROM customer_preferences

-- name: preferences_meta
SELECT max(as_of) AS as_of, max(window_days) AS window_days, max(refreshed_at) AS refreshed_at,
       count(*) AS customers
FROM customer_preferences

-- name: preferences_of_customer
SELECT customer_id, as_of, window_days, favourite_category, categories_bought, browsed_not_bought,
       kept_orders, mean_order_value, price_level, next_category, refreshed_at
FROM customer_preferences WHERE customer_id = :customer_id

-- name: preferences_next_category
-- The next category to offer for a list of customers (export column); live customers only.
SELECT p.customer_id, p.next_category
FROM customer_preferences p
JOIN customers c USING (customer_id)
WHERE list_contains(CAST(:ids AS BIGINT[]), p.customer_id)
  AND c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
ORDER BY p.customer_id

-- name: preferences_categories
-- Distinct categories seen in orders (for pick lists of the segment builder).
SELECT category AS value, count(*) AS orders FROM orders
WHERE category IS NOT NULL GROUP BY category ORDER BY orders DESC, value

-- ---------------------------------------------------------------- segment builder
-- Spliced into segment_base (lib/core/sql/marketing_segments.sql): the preference columns and
-- their join, and the birthday fields. Feb 29 birthdays fall on Feb 28 in other years.

-- name: preference_segment_columns
p.favourite_category, p.categories_bought, p.browsed_not_bought, p.price_level, p.next_category,
CAST(month(c.birth_date) AS INTEGER) AS birth_month,
-- the first anniversary on or after as_of (date + years keeps Feb 29 in leap years, else Feb 28)
CAST(date_diff('day', CAST(:as_of AS DATE),
    CASE WHEN CAST(c.birth_date + to_years(year(CAST(:as_of AS DATE)) - year(c.birth_date)) AS DATE) >= CAST(:as_of AS DATE)
         THEN CAST(c.birth_date + to_years(year(CAST(:as_of AS DATE)) - year(c.birth_date)) AS DATE)
         ELSE CAST(c.birth_date + to_years(year(CAST(:as_of AS DATE)) - year(c.birth_date) + 1) AS DATE)
    END) AS INTEGER) AS days_to_birthday

-- name: preference_segment_join
LEFT JOIN customer_preferences p ON p.customer_id = c.customer_id

-- ---------------------------------------------------------------- recommendation evaluation

-- name: recommend_evaluate
-- Time split: the model and the baseline see kept orders before :cutoff only; the truth is each
-- such customer's first kept order (with a category) in [cutoff, cutoff + horizon). Model: the
-- top categories by score(customer, j) (see preferences_insert) from the training similarity;
-- baseline: the categories with the most training buyers, the same list for everyone.
-- hit@k = share of test customers whose true next category is among the first k offered.
WITH cp AS ({{category_purchases}}),
sim AS ({{category_similarity_rows}}),
buyers AS (SELECT category, count(*) AS buyers FROM cp GROUP BY category),
popular AS (SELECT category, row_number() OVER (ORDER BY buyers DESC, category) AS rank FROM buyers),
scores AS (
    SELECT cp.customer_id, s.category_b AS category, sum(cp.n * s.similarity) AS score
    FROM cp JOIN sim s ON s.category_a = cp.category
    GROUP BY ALL
),
ranked AS (
    SELECT customer_id, category,
           row_number() OVER (PARTITION BY customer_id ORDER BY score DESC, category) AS rank
    FROM scores
),
truth AS (
    SELECT o.customer_id, o.category FROM orders o
    WHERE o.status IN ('paid', 'partially_refunded') AND o.category IS NOT NULL
      AND o.order_time >= CAST(:cutoff AS TIMESTAMP)
      AND o.order_time < CAST(:cutoff AS TIMESTAMP) + to_days(CAST(:horizon_days AS INTEGER))
      AND o.customer_id IN (SELECT customer_id FROM cp)
    QUALIFY row_number() OVER (PARTITION BY o.customer_id ORDER BY o.order_time, o.order_id) = 1
)
SELECT count(*) AS customers,
       count(*) FILTER (WHERE r.rank = 1) AS model_hits_1,
       count(*) FILTER (WHERE r.rank <= 3) AS model_hits_3,
       count(*) FILTER (WHERE p.rank = 1) AS baseline_hits_1,
       count(*) FILTER (WHERE p.rank <= 3) AS baseline_hits_3,
       (SELECT count(*) FROM buyers) AS categories
FROM truth t
LEFT JOIN ranked r ON r.customer_id = t.customer_id AND r.category = t.category
LEFT JOIN popular p ON p.category = t.category

-- ---------------------------------------------------------------- category analytics
-- The Overview's filters: order date window [start, end] and the customer's attributes
-- (empty list = no filter). Repeat rate = buyers with two or more kept orders in the category
-- within the window / buyers of the category.

-- name: category_filtered_orders
SELECT o.customer_id, o.order_time, o.status, o.channel AS order_channel,
       coalesce(o.category, '(none)') AS category, o.amount - o.refund_amount AS net
FROM orders o
JOIN customers c USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
  AND o.status <> 'cancelled'
  AND o.order_time >= CAST(:start AS TIMESTAMP)
  AND o.order_time < CAST(:end AS TIMESTAMP) + INTERVAL 1 DAY
  AND (len(CAST(:channel AS VARCHAR[])) = 0 OR list_contains(CAST(:channel AS VARCHAR[]), c.channel))
  AND (len(CAST(:province AS VARCHAR[])) = 0 OR list_contains(CAST(:province AS VARCHAR[]), c.province))
  AND (len(CAST(:customer_type AS VARCHAR[])) = 0 OR list_contains(CAST(:customer_type AS VARCHAR[]), c.customer_type))
  AND (len(CAST(:lifecycle_stage AS VARCHAR[])) = 0 OR list_contains(CAST(:lifecycle_stage AS VARCHAR[]), c.lifecycle_stage))

-- name: category_summary
WITH f AS ({{category_filtered_orders}}),
per_buyer AS (
    SELECT category, customer_id, count(*) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS kept,
           sum(net) AS net
    FROM f GROUP BY ALL
)
SELECT category, sum(net) AS revenue,
       count(*) FILTER (WHERE kept >= 1) AS buyers,
       sum(kept) AS orders,
       count(*) FILTER (WHERE kept >= 2) / nullif(count(*) FILTER (WHERE kept >= 1), 0) AS repeat_rate,
       sum(net) / nullif(sum(kept), 0) AS avg_order_value
FROM per_buyer GROUP BY category ORDER BY revenue DESC, category

-- name: category_by_channel
WITH f AS ({{category_filtered_orders}})
SELECT category, coalesce(order_channel, '(none)') AS order_channel, sum(net) AS revenue,
       count(DISTINCT customer_id) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS buyers
FROM f GROUP BY ALL ORDER BY category, order_channel

-- name: category_monthly
WITH f AS ({{category_filtered_orders}})
SELECT CAST(date_trunc('month', order_time) AS DATE) AS month, category, sum(net) AS revenue,
       count(DISTINCT customer_id) FILTER (WHERE status IN ('paid', 'partially_refunded')) AS buyers
FROM f GROUP BY ALL ORDER BY month, category

-- ---------------------------------------------------------------- revenue outlook

-- name: outlook_latest_clv_model
SELECT clv_model_id, fitted_at, as_of, horizon_days, bgnbd, gamma_gamma
FROM clv_models ORDER BY clv_model_id DESC LIMIT 1

-- name: outlook_revenue_between
-- Net revenue of non-cancelled orders of live customers in [start, stop), split by whether the
-- customer's first kept order ever is before :start (existing) or not (new).
WITH firsts AS (
    SELECT o.customer_id, min(o.order_time) AS first_order
    FROM orders o
    WHERE o.status IN ('paid', 'partially_refunded') AND o.order_time < CAST(:stop AS TIMESTAMP)
    GROUP BY o.customer_id
)
SELECT coalesce(sum(o.amount - o.refund_amount) FILTER (WHERE f.first_order < CAST(:start AS TIMESTAMP)), 0) AS existing,
       coalesce(sum(o.amount - o.refund_amount) FILTER (WHERE f.first_order IS NULL OR f.first_order >= CAST(:start AS TIMESTAMP)), 0) AS new,
       coalesce(sum(o.amount - o.refund_amount), 0) AS total
FROM orders o
JOIN customers c USING (customer_id)
LEFT JOIN firsts f USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
  AND o.status <> 'cancelled'
  AND o.order_time >= CAST(:start AS TIMESTAMP) AND o.order_time < CAST(:stop AS TIMESTAMP)

-- name: outlook_new_customer_windows
-- For each window [start_i, stop_i) (parallel lists), the net revenue in the window of live
-- customers whose first kept order falls within the same window: what "new customers" bring in
-- during the quarter they are acquired.
WITH windows AS (
    SELECT unnest(CAST(:starts AS TIMESTAMP[])) AS wstart, unnest(CAST(:stops AS TIMESTAMP[])) AS wstop
),
firsts AS (
    SELECT o.customer_id, min(o.order_time) AS first_order
    FROM orders o JOIN customers c USING (customer_id)
    WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
      AND o.status IN ('paid', 'partially_refunded')
    GROUP BY o.customer_id
),
early AS (
    SELECT o.customer_id, o.order_time, o.amount - o.refund_amount AS net, f.first_order
    FROM orders o JOIN firsts f USING (customer_id)
    WHERE o.status <> 'cancelled'
      AND o.order_time >= (SELECT min(wstart) FROM windows)
      AND o.order_time >= f.first_order
)
SELECT w.wstart AS window_start, w.wstop AS window_stop,
       coalesce(sum(e.net), 0) AS new_customer_revenue,
       count(DISTINCT e.customer_id) AS new_customers
FROM windows w
LEFT JOIN early e ON e.first_order >= w.wstart AND e.first_order < w.wstop
                 AND e.order_time >= w.wstart AND e.order_time < w.wstop
GROUP BY ALL ORDER BY window_start

-- name: outlook_first_purchase
-- The first kept order of any live customer (the new-customer trend starts there).
SELECT min(o.order_time) FROM orders o JOIN customers c USING (customer_id)
WHERE c.merged_into IS NULL AND c.deleted_at IS NULL AND c.erased_at IS NULL
  AND o.status IN ('paid', 'partially_refunded')
