-- Category preferences (issue #18): one row per live customer with an order or a browse/cart
-- event, rebuilt set-based by lib/marketing/preferences.refresh() (CLI `preferences refresh`,
-- and after every load through lib/core/hooks). The segment builder joins it.
--   favourite_category   the category of most kept orders (ties: more net revenue, then the
--                        category name), over all kept orders before the as-of date
--   categories_bought    every category of a kept order before the as-of date (sorted)
--   browsed_not_bought   categories browsed or put in the cart in the last window_days days and
--                        not bought (no kept order in that category) in the same window
--   mean_order_value     mean net value of the customer's kept orders
--   price_level          low / mid / high: the customer's mean order value against the median
--                        order value of their favourite category (< 0.75x low, > 1.33x high)
--   next_category        the category to offer next: best co-purchase score among categories
--                        not bought yet (lib/marketing/recommend.py)
-- Category codes and levels only (as events.category): no person's data (privacy.NOT_PERSONAL).
CREATE TABLE IF NOT EXISTS customer_preferences (
    customer_id         BIGINT PRIMARY KEY,
    as_of               DATE NOT NULL,
    window_days         INTEGER NOT NULL,
    favourite_category  VARCHAR,
    categories_bought   VARCHAR[],
    browsed_not_bought  VARCHAR[],
    kept_orders         INTEGER NOT NULL,
    mean_order_value    DOUBLE,
    price_level         VARCHAR,
    next_category       VARCHAR,
    refreshed_at        TIMESTAMP NOT NULL
);

-- The co-purchase similarity of the latest refresh (cosine over customers x categories bought),
-- kept for the model notes and the 360 page's "why".
CREATE TABLE IF NOT EXISTS category_similarity (
    category_a  VARCHAR NOT NULL,
    category_b  VARCHAR NOT NULL,
    buyers_both BIGINT NOT NULL,
    similarity  DOUBLE NOT NULL
);
