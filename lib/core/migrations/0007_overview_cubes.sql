-- Dashboards, second layout: the additive Overview figures (registrations, first purchases,
-- kept orders, net revenue) move into one daily and one monthly cube, so that only the
-- distinct counts (active, purchasers, repeaters, churn) still read a row per customer.
-- The old sales cubes are replaced; agg_meta is cleared so that the next dashboard read
-- rebuilds every aggregate (lib/metrics.aggregates_meta) instead of showing empty cubes.

CREATE TABLE IF NOT EXISTS agg_day (
    day            DATE NOT NULL,
    seg            INTEGER NOT NULL,
    new_customers  BIGINT NOT NULL,     -- registered that day (live customers)
    repeat_buyers  BIGINT NOT NULL,     -- ... of whom have two or more kept orders by now
    first_buyers   BIGINT NOT NULL,     -- first kept order that day
    orders         BIGINT NOT NULL,     -- kept orders (paid or partially refunded)
    revenue        DECIMAL(18, 2) NOT NULL   -- amount - refund of orders not cancelled
);

CREATE TABLE IF NOT EXISTS agg_month (
    month          DATE NOT NULL,
    seg            INTEGER NOT NULL,
    new_customers  BIGINT NOT NULL,
    repeat_buyers  BIGINT NOT NULL,
    first_buyers   BIGINT NOT NULL,
    orders         BIGINT NOT NULL,
    revenue        DECIMAL(18, 2) NOT NULL
);

-- Per segment: live customers with two or more kept orders (the lifecycle funnel's "repeat").
ALTER TABLE agg_segs ADD COLUMN IF NOT EXISTS repeat_buyers BIGINT DEFAULT 0;

-- The sidebar filters' options (dimension = channel | province | customer_type | lifecycle_stage).
CREATE TABLE IF NOT EXISTS agg_filter_values (
    dimension  VARCHAR NOT NULL,
    value      VARCHAR NOT NULL,
    customers  BIGINT NOT NULL
);

DROP TABLE IF EXISTS agg_sales_day;
DROP TABLE IF EXISTS agg_sales_month;
DELETE FROM agg_meta;
