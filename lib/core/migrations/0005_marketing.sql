-- Marketing: saved segments, RFM snapshot, churn models and scores, CLV fits and scores.
-- Derived tables (customer_rfm, churn_scores, clv_scores) are rebuilt set-based by their jobs;
-- they hold one row per customer for the latest run so the segment builder can join them.

CREATE SEQUENCE IF NOT EXISTS segment_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS churn_model_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS clv_model_id_seq START 1;

CREATE TABLE IF NOT EXISTS segments (
    segment_id   BIGINT PRIMARY KEY DEFAULT nextval('segment_id_seq'),
    name         VARCHAR NOT NULL UNIQUE,
    description  VARCHAR,
    definition   JSON NOT NULL,                  -- validated tree: {"op": "and", "conditions": [...]}
    owner        VARCHAR NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,     -- optimistic concurrency for rename/edit
    created_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- RFM as of one date (the latest refresh), one row per customer with at least one order.
CREATE TABLE IF NOT EXISTS customer_rfm (
    customer_id    BIGINT PRIMARY KEY,
    as_of          DATE NOT NULL,
    recency_days   INTEGER NOT NULL,
    frequency      INTEGER NOT NULL,
    monetary       DECIMAL(14, 2) NOT NULL,
    last_purchase  TIMESTAMP NOT NULL,
    r_score        TINYINT NOT NULL,
    f_score        TINYINT NOT NULL,
    m_score        TINYINT NOT NULL,
    rfm_segment    VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS churn_models (
    model_id         BIGINT PRIMARY KEY DEFAULT nextval('churn_model_id_seq'),
    trained_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    trained_by       VARCHAR NOT NULL,
    as_of            DATE NOT NULL,              -- last day of data the model saw
    horizon_days     INTEGER NOT NULL,           -- label: no purchase within this many days
    train_cutoff     DATE NOT NULL,              -- features of the training rows end before this
    eval_cutoff      DATE NOT NULL,              -- features of the holdout rows end before this
    n_train          INTEGER NOT NULL,
    n_holdout        INTEGER NOT NULL,
    base_rate        DOUBLE NOT NULL,            -- share of holdout rows that churned
    auc              DOUBLE NOT NULL,
    baseline_auc     DOUBLE NOT NULL,            -- recency alone
    precision_at_k   DOUBLE NOT NULL,
    baseline_precision_at_k DOUBLE NOT NULL,
    k_share          DOUBLE NOT NULL,            -- k as a share of the holdout
    brier            DOUBLE NOT NULL,
    metrics          JSON NOT NULL,              -- calibration bins, feature importance, timings
    model_blob       BLOB NOT NULL               -- pickled scikit-learn estimator (trusted: written by us)
);

CREATE TABLE IF NOT EXISTS churn_scores (
    customer_id   BIGINT PRIMARY KEY,
    model_id      BIGINT NOT NULL,
    as_of         DATE NOT NULL,
    probability   DOUBLE NOT NULL,
    risk_tier     VARCHAR NOT NULL CHECK (risk_tier IN ('high', 'medium', 'low')),
    reasons       VARCHAR[] NOT NULL,
    scored_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS clv_models (
    clv_model_id  BIGINT PRIMARY KEY DEFAULT nextval('clv_model_id_seq'),
    fitted_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    fitted_by     VARCHAR NOT NULL,
    as_of         DATE NOT NULL,
    horizon_days  INTEGER NOT NULL,
    n_customers   INTEGER NOT NULL,
    bgnbd         JSON NOT NULL,                 -- r, alpha, a, b
    gamma_gamma   JSON NOT NULL,                 -- p, q, gamma
    backtest      JSON                           -- predicted vs actual in a holdout window
);

CREATE TABLE IF NOT EXISTS clv_scores (
    customer_id          BIGINT PRIMARY KEY,
    clv_model_id         BIGINT NOT NULL,
    as_of                DATE NOT NULL,
    horizon_days         INTEGER NOT NULL,
    p_alive              DOUBLE NOT NULL,
    expected_purchases   DOUBLE NOT NULL,
    expected_avg_value   DOUBLE NOT NULL,
    expected_value       DOUBLE NOT NULL,
    scored_at            TIMESTAMP NOT NULL DEFAULT current_timestamp
);
