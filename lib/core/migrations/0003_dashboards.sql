-- Dashboards: small pre-aggregated tables that lib/aggregates.refresh() rebuilds from
-- customers / orders / events after every load, merge or lifecycle recompute. Created empty
-- here so that every dashboard query works (and shows zeros) before the first refresh.
-- All of them are derived data: dropping and rebuilding them loses nothing.

-- One row per combination of the customer attributes the dashboards filter and break down by
-- ("segment"). Fact tables carry only the small integer `seg`; filters are applied to this
-- table after the big tables have been grouped by seg.
CREATE TABLE IF NOT EXISTS agg_segs (
    seg              INTEGER PRIMARY KEY,
    channel          VARCHAR NOT NULL,     -- '' = unknown
    province         VARCHAR NOT NULL,
    customer_type    VARCHAR NOT NULL,
    industry         VARCHAR NOT NULL,
    lifecycle_stage  VARCHAR NOT NULL,
    customers        BIGINT NOT NULL
);

-- One row per live customer (not merged, not deleted), sorted by registered_day.
-- act_mask / buy_mask: bit k set when the customer had an event / a kept order in the month
-- base_month + k (k = 0..62, base_month in agg_meta), so "active in these whole months" is one
-- AND per customer instead of a distinct count over millions of rows.
CREATE TABLE IF NOT EXISTS agg_customer (
    customer_id       BIGINT NOT NULL,
    seg               INTEGER NOT NULL,
    registered_day    DATE NOT NULL,
    first_order_day   DATE,               -- first kept order (paid or partially refunded)
    second_order_day  DATE,               -- second kept order (same day counts twice)
    kept_orders       INTEGER NOT NULL,
    act_mask          BIGINT NOT NULL,
    buy_mask          BIGINT NOT NULL
);

-- One row per customer and month with at least one event or kept order, sorted by month.
-- act_days / buy_days: bit d-1 set when the customer had an event / a kept order on day d.
-- *_prev_day: the customer's last such day before this month; *_next_month: the next month
-- with one. Together with the masks they give exact distinct counts for any date range.
CREATE TABLE IF NOT EXISTS agg_customer_month (
    month             DATE NOT NULL,
    seg               INTEGER NOT NULL,
    act_days          INTEGER NOT NULL,
    act_prev_day      DATE,
    act_next_month    DATE,
    buy_days          INTEGER NOT NULL,
    buy_prev_day      DATE,
    buy_next_month    DATE,
    first_order_day   DATE,
    second_order_day  DATE
);

-- Additive sales cubes: kept orders and net revenue (amount - refund, cancelled excluded)
-- per day (partial months at a window's edges) and per month (whole months inside it).
CREATE TABLE IF NOT EXISTS agg_sales_day (
    day      DATE NOT NULL,
    seg      INTEGER NOT NULL,
    orders   BIGINT NOT NULL,
    revenue  DECIMAL(18, 2) NOT NULL
);

CREATE TABLE IF NOT EXISTS agg_sales_month (
    month    DATE NOT NULL,
    seg      INTEGER NOT NULL,
    orders   BIGINT NOT NULL,
    revenue  DECIMAL(18, 2) NOT NULL
);

-- Monthly active customers per segment (distinct within the month, so additive over segments).
CREATE TABLE IF NOT EXISTS agg_active_month (
    month      DATE NOT NULL,
    seg        INTEGER NOT NULL,
    customers  BIGINT NOT NULL
);

-- Cohorts: customers whose first kept order fell in cohort_month and who bought again
-- months_since months later (months_since = 0 is the cohort size).
CREATE TABLE IF NOT EXISTS agg_cohort (
    cohort_month  DATE NOT NULL,
    months_since  INTEGER NOT NULL,
    seg           INTEGER NOT NULL,
    customers     BIGINT NOT NULL
);

-- One row: when the tables above were last rebuilt and from how much data.
CREATE TABLE IF NOT EXISTS agg_meta (
    refreshed_at  TIMESTAMP NOT NULL,
    seconds       DOUBLE NOT NULL,
    base_month    DATE NOT NULL,
    customers     BIGINT NOT NULL,
    orders        BIGINT NOT NULL,
    events        BIGINT NOT NULL,
    first_day     DATE,                 -- earliest registration, order or event
    last_day      DATE                  -- latest one
);
