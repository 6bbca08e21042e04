-- Scheduled jobs (issue #17, lib/admin/jobs.py): the schedules admins changed, every run's
-- outcome, and one lease row per job so that only one process runs a job at a time.
-- Lake-compatible: no ALTER, literal defaults only; the lease is claimed by a compare-and-set
-- UPDATE (a DuckLake writer that loses the race gets a conflict and re-reads the row).
CREATE SEQUENCE IF NOT EXISTS job_run_id_seq START 1;

-- Only schedules an admin changed are stored; the others are the defaults declared in code.
CREATE TABLE IF NOT EXISTS job_schedules (
    name        VARCHAR PRIMARY KEY,        -- job name (lib.core.hooks.job registry)
    cron        VARCHAR NOT NULL,           -- crontab expression: minute hour day month weekday
    enabled     BOOLEAN NOT NULL,
    updated_by  VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE IF NOT EXISTS job_runs (
    run_id       BIGINT PRIMARY KEY DEFAULT nextval('job_run_id_seq'),
    name         VARCHAR NOT NULL,
    trigger      VARCHAR NOT NULL,          -- 'schedule' or 'manual' (Run now, CLI)
    started_by   VARCHAR NOT NULL,          -- 'system' for scheduled runs
    host         VARCHAR NOT NULL,          -- process that ran it (host:pid)
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    outcome      VARCHAR NOT NULL,          -- running, ok, failed, skipped
    rows_touched BIGINT,
    note         VARCHAR,                   -- what the job did or why it was skipped
    error        VARCHAR,                   -- the failure's message
    watermark    BIGINT                     -- incremental jobs: the highest id handled
);

CREATE TABLE IF NOT EXISTS job_leases (
    name        VARCHAR NOT NULL,
    holder      VARCHAR NOT NULL,           -- host:pid of the run holding it, '' when free
    due_at      TIMESTAMP,                  -- the latest scheduled time already claimed
    expires_at  TIMESTAMP NOT NULL          -- a crashed holder's lease lapses at this time
);
