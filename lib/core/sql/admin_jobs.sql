-- Named queries of the scheduled jobs (lib/admin/jobs.py): schedules, runs, leases.

-- ================================================================ schedules

-- name: jobs_schedules
SELECT name, cron, enabled, updated_by, updated_at FROM job_schedules

-- name: jobs_schedule_get
SELECT name, cron, enabled, updated_by, updated_at FROM job_schedules WHERE name = :job

-- name: jobs_schedule_delete
DELETE FROM job_schedules WHERE name = :job

-- name: jobs_schedule_insert
INSERT INTO job_schedules (name, cron, enabled, updated_by, updated_at)
VALUES (:job, :cron, :enabled, :updated_by, :updated_at)

-- ================================================================ runs

-- name: jobs_run_start
INSERT INTO job_runs (name, trigger, started_by, host, started_at, outcome)
VALUES (:job, :trigger, :started_by, :host, :started_at, 'running')
RETURNING run_id

-- name: jobs_run_finish
UPDATE job_runs
SET finished_at = :finished_at, outcome = :outcome, rows_touched = :rows_touched, note = :note,
    error = :error, watermark = :watermark
WHERE run_id = :run_id

-- name: jobs_runs_abandoned
-- Called by the holder of the job's lease: any run of it still marked running was left by a
-- process that stopped (its lease lapsed), not by a run in progress.
UPDATE job_runs
SET outcome = 'failed', finished_at = :now,
    error = 'The process running this job stopped before it finished (its lease lapsed); nothing it did was kept unless committed.'
WHERE name = :job AND outcome = 'running'

-- name: jobs_run_get
SELECT run_id, name, trigger, started_by, host, started_at, finished_at, outcome, rows_touched, note, error, watermark
FROM job_runs WHERE run_id = :run_id

-- name: jobs_latest_runs
SELECT run_id, name, trigger, started_by, started_at, finished_at, outcome, rows_touched, note, error
FROM (
    SELECT *, row_number() OVER (PARTITION BY name ORDER BY run_id DESC) AS rn FROM job_runs
) AS r
WHERE rn = 1

-- name: jobs_history
SELECT run_id, name, trigger, started_by, started_at, finished_at, outcome, rows_touched, note, error
FROM job_runs
WHERE name = :job OR CAST(:job AS VARCHAR) IS NULL
ORDER BY run_id DESC
LIMIT :limit

-- name: jobs_last_success
SELECT max(finished_at) FROM job_runs WHERE name = :job AND outcome = 'ok'

-- name: jobs_last_watermark
SELECT watermark FROM job_runs
WHERE name = :job AND outcome = 'ok' AND watermark IS NOT NULL
ORDER BY run_id DESC LIMIT 1

-- ================================================================ leases
-- One row per job. Claims are compare-and-set UPDATEs, in their own short transaction: two
-- processes updating the row at once conflict, the loser rolls back and re-reads it.

-- name: jobs_lease_ensure
INSERT INTO job_leases (name, holder, due_at, expires_at)
SELECT :job, '', NULL, TIMESTAMP '1970-01-01 00:00:00'
WHERE NOT EXISTS (SELECT 1 FROM job_leases WHERE name = :job)

-- A lake enforces no unique key and two concurrent inserts do not conflict, so two processes
-- ensuring the row in the same instant can each add one. Every claim updates all of a job's rows
-- alike, so they agree; the next claim folds them back into one (deleting the same rows
-- conflicts, so only one process folds).

-- name: jobs_lease_rows
SELECT count(*) AS n, max(holder) AS holder, max(due_at) AS due_at, max(expires_at) AS expires_at
FROM job_leases WHERE name = :job

-- name: jobs_lease_delete
DELETE FROM job_leases WHERE name = :job

-- name: jobs_lease_insert
INSERT INTO job_leases (name, holder, due_at, expires_at) VALUES (:job, :holder, :due_at, :expires_at)

-- name: jobs_lease_claim_slot
UPDATE job_leases SET holder = :holder, due_at = :due_at, expires_at = :expires_at
WHERE name = :job AND expires_at <= :now AND (due_at IS NULL OR due_at < :due_at)

-- name: jobs_lease_claim_now
UPDATE job_leases SET holder = :holder, expires_at = :expires_at
WHERE name = :job AND expires_at <= :now

-- name: jobs_lease_get
SELECT holder, due_at, expires_at FROM job_leases WHERE name = :job

-- name: jobs_lease_release
UPDATE job_leases SET holder = '', expires_at = TIMESTAMP '1970-01-01 00:00:00'
WHERE name = :job AND holder = :holder

-- ================================================================ what the jobs read

-- name: jobs_newest_customer_id
SELECT max(customer_id) FROM customers

-- name: jobs_live_customer_ids_after
SELECT customer_id FROM customers
WHERE customer_id > :after AND deleted_at IS NULL AND merged_into IS NULL
ORDER BY customer_id

-- name: jobs_latest_clv_model
SELECT clv_model_id, horizon_days, n_customers, CAST(bgnbd AS VARCHAR) AS bgnbd,
       CAST(gamma_gamma AS VARCHAR) AS gamma_gamma
FROM clv_models ORDER BY clv_model_id DESC LIMIT 1
