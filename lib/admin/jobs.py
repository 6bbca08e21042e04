"""Scheduled jobs: their schedules, runs, history and the lease that lets one process run each.

The jobs themselves are declared where their work lives (`@hooks.job` in lib/dashboards/jobs.py,
lib/stewardship/jobs.py, lib/marketing/jobs.py, and the snapshot, restore drill and lake
maintenance below); lib/admin/scheduler.py fires them on their schedules inside the serving
process, the Jobs page and `python -m lib.cli jobs` run them on demand. Every path goes
through `_execute`:

1. claim the job's lease row in one short transaction (compare-and-set UPDATE). A scheduled
   run claims its *slot* (the scheduled time): a second process firing for the same slot, on
   the same lake, finds it taken and does nothing, so each due run happens exactly once;
2. record a 'running' row in job_runs (its own transaction: nothing is held open meanwhile);
3. run the job. Its writes are the area's own transactions: a failure rolls them back and
   leaves the previous results in place;
4. record the outcome (ok / failed / skipped, rows, note, error), release the lease, audit a
   failure, and publish `hooks.job_finished(JobRun)` to subscribers (alerts).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from apscheduler.triggers.cron import CronTrigger
from tzlocal import get_localzone

from lib.admin import backup
from lib.core import errors, hooks, warehouse
from lib.security import audit, auth

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=10)  # a scheduled slot is still run this late (scheduler busy, restart)
HISTORY_LIMIT = 50


class JobBusyError(errors.ConflictError):
    """The job is running now (in this process or another)."""


class JobFailed(RuntimeError):
    """Raised by a job whose work finished but whose check failed (a restore drill)."""


def _host() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _mode() -> str:
    return warehouse.current_location().kind


# ---------------------------------------------------------------- schedules


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(cron: str) -> str:
    """Weekday numbers as crontab means them (0 or 7 = Sunday), written as names: APScheduler
    3 counts its weekday numbers from Monday = 0, so '0 4 * * 0' would run on Mondays."""
    fields = cron.split()
    if len(fields) == 5:
        fields[4] = re.sub(r"(?<![/\d])\d+", lambda m: _WEEKDAYS[int(m.group()) % 7], fields[4])
    return " ".join(fields)


def trigger(cron: str) -> CronTrigger:
    """The APScheduler trigger of a crontab expression (local time); ValidationError if invalid."""
    try:
        return CronTrigger.from_crontab(_crontab_weekdays(cron.strip()), timezone=get_localzone())
    except (ValueError, TypeError) as exc:
        raise errors.ValidationError(
            f"{cron!r} is not a schedule: write five fields, minute hour day month weekday "
            f"(e.g. '0 2 * * *' = every day at 02:00; weekdays 0-6 from Sunday, or sun-sat). {exc}"
        ) from None


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(get_localzone()) if moment.tzinfo is None else moment


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(get_localzone()).replace(tzinfo=None)


def next_run(cron: str, now: datetime | None = None) -> datetime | None:
    """The next scheduled time at or after `now` (naive local time)."""
    fire = trigger(cron).get_next_fire_time(None, _aware(now or datetime.now()))
    return None if fire is None else _naive(fire)


def last_due(cron: str, now: datetime | None = None) -> datetime | None:
    """The latest scheduled time at or before `now` (within the past year), naive local time."""
    trig = trigger(cron)
    now_aware = _aware(now or datetime.now())
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367)):
        fire = trig.get_next_fire_time(None, now_aware - window)
        if fire is None or fire > now_aware:
            continue
        while True:
            following = trig.get_next_fire_time(fire, fire + timedelta(microseconds=1))
            if following is None or following > now_aware:
                return _naive(fire)
            fire = following
    return None


def specs() -> dict[str, hooks.JobSpec]:
    """Every declared job (all modes), in display order."""
    return hooks.jobs()


def applies(spec: hooks.JobSpec) -> bool:
    """Does the job apply to this deployment (file warehouse or lake)?"""
    return _mode() in spec.modes


def _spec(name: str) -> hooks.JobSpec:
    found = specs().get(str(name))
    if found is None:
        raise errors.NotFoundError(f"There is no job {name!r}; known jobs: {', '.join(specs())}.")
    return found


def schedules() -> dict[str, tuple[str, bool]]:
    """name -> (crontab, enabled) for every job: the admin's stored change, else the default."""
    stored = {r["name"]: (r["cron"], bool(r["enabled"])) for r in warehouse.records("jobs_schedules")}
    return {name: stored.get(name, (spec.schedule, True)) for name, spec in specs().items()}


_schedule_listeners: list[Callable[[], None]] = []


def on_schedule_change(listener: Callable[[], None]) -> None:
    """The scheduler of this process re-reads the schedules when an admin changes one here
    (other processes pick the change up at their next sync)."""
    if listener not in _schedule_listeners:
        _schedule_listeners.append(listener)


def set_schedule(user: auth.User, name: str, cron: str, enabled: bool = True) -> None:
    """Change a job's schedule (crontab, local time) or switch it off; audited."""
    auth.require(user, "manage_jobs")
    spec = _spec(name)
    cron = " ".join(str(cron).split())
    trigger(cron)
    _store_schedule(user, spec, cron, bool(enabled))
    for listener in list(_schedule_listeners):
        try:
            listener()
        except Exception as exc:  # noqa: BLE001 - the change is stored; the periodic sync retries
            log.warning("scheduler did not take the new schedule of %s at once: %s", name, exc)


@warehouse.retrying
def _store_schedule(user: auth.User, spec: hooks.JobSpec, cron: str, enabled: bool) -> None:
    with warehouse.transaction() as tx:
        before = tx.one("jobs_schedule_get", job=spec.name)
        tx.run("jobs_schedule_delete", job=spec.name)
        tx.run(
            "jobs_schedule_insert",
            job=spec.name,
            cron=cron,
            enabled=enabled,
            updated_by=user.username,
            updated_at=_now(),
        )
        audit.record(
            tx,
            user,
            "job.schedule",
            "job",
            spec.name,
            before={"cron": before["cron"], "enabled": bool(before["enabled"])}
            if before
            else {"cron": spec.schedule, "enabled": True},
            after={"cron": cron, "enabled": enabled},
        )


# ---------------------------------------------------------------- reading runs


def last_success(name: str) -> datetime | None:
    """When the job last finished with outcome 'ok' (None if never): the overdue-job alert."""
    return warehouse.scalar("jobs_last_success", job=name)


def overview(user: auth.User, now: datetime | None = None) -> pd.DataFrame:
    """One row per job: schedule, whether it applies here, last run (start, duration, outcome,
    rows, note, error) and next run."""
    auth.require(user, "manage_jobs")
    now = now or datetime.now()
    latest = {r["name"]: r for r in warehouse.records("jobs_latest_runs")}
    rows = []
    for name, (cron, enabled) in schedules().items():
        spec = specs()[name]
        last = latest.get(name) or {}
        started, finished = last.get("started_at"), last.get("finished_at")
        here = applies(spec)
        rows.append(
            {
                "name": name,
                "schedule": cron,
                "default_schedule": spec.schedule,
                "enabled": enabled,
                "applies": here,
                "last_run": started,
                "duration_s": (finished - started).total_seconds() if started and finished else None,
                "outcome": last.get("outcome"),
                "rows": last.get("rows_touched"),
                "note": last.get("note"),
                "error": last.get("error"),
                "next_run": next_run(cron, now) if enabled and here else None,
            }
        )
    return pd.DataFrame(rows)


def history(user: auth.User, name: str | None = None, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """Runs, newest first (of one job, or of all)."""
    auth.require(user, "manage_jobs")
    frame = warehouse.read("jobs_history", job=name, limit=int(limit))
    frame["duration_s"] = [
        (f - s).total_seconds() if pd.notna(f) and pd.notna(s) else None
        for s, f in zip(frame["started_at"], frame["finished_at"])
    ]
    return frame


# ---------------------------------------------------------------- running


def _claim(spec: hooks.JobSpec, holder: str, due_at: datetime | None) -> bool:
    """Take the job's lease (and, for a scheduled run, its slot) in one short transaction.

    The lease is timed by the wall clock (a crashed holder's lease lapses after
    `lease_minutes`); the slot is the scheduled time, whatever clock chose it."""

    @warehouse.retrying(attempts=8)
    def attempt() -> bool:
        now = datetime.now()
        with warehouse.transaction(bookkeeping=True) as tx:
            tx.run("jobs_lease_ensure", job=spec.name)
        with warehouse.transaction(bookkeeping=True) as tx:
            rows = tx.one("jobs_lease_rows", job=spec.name) or {}
            if rows.get("n", 0) > 1:  # two processes ensured it at once (see admin_jobs.sql)
                tx.run("jobs_lease_delete", job=spec.name)
                tx.run("jobs_lease_insert", job=spec.name, **{k: rows[k] for k in ("holder", "due_at", "expires_at")})
            expires = now + timedelta(minutes=spec.lease_minutes)
            if due_at is None:
                tx.run("jobs_lease_claim_now", job=spec.name, holder=holder, expires_at=expires, now=now)
            else:
                tx.run(
                    "jobs_lease_claim_slot", job=spec.name, holder=holder, due_at=due_at, expires_at=expires, now=now
                )
            row = tx.one("jobs_lease_get", job=spec.name)
        return bool(row and row["holder"] == holder and row["expires_at"] == expires)

    return attempt()


@warehouse.retrying
def _release(spec: hooks.JobSpec, holder: str) -> None:
    with warehouse.transaction(bookkeeping=True) as tx:
        tx.run("jobs_lease_release", job=spec.name, holder=holder)


@warehouse.retrying
def _close_abandoned(spec: hooks.JobSpec, now: datetime) -> None:
    with warehouse.transaction(bookkeeping=True) as tx:
        tx.run("jobs_runs_abandoned", job=spec.name, now=now)


@warehouse.retrying
def _start_row(spec: hooks.JobSpec, trigger_kind: str, user: auth.User, started: datetime) -> int:
    with warehouse.transaction(bookkeeping=True) as tx:
        return int(
            tx.scalar(
                "jobs_run_start",
                job=spec.name,
                trigger=trigger_kind,
                started_by=user.username,
                host=_host(),
                started_at=started,
            )
        )


@warehouse.retrying
def _finish_row(run: hooks.JobRun, watermark: int | None, user: auth.User) -> None:
    with warehouse.transaction(bookkeeping=True) as tx:
        tx.run(
            "jobs_run_finish",
            run_id=run.run_id,
            finished_at=run.finished_at,
            outcome=run.outcome,
            rows_touched=run.rows,
            note=run.note or None,
            error=run.error,
            watermark=watermark,
        )
        if run.outcome == "failed":
            audit.record(tx, user, "job.failed", "job", run.name, detail={"run_id": run.run_id, "error": run.error})


def _quiet(fraction: float, text: str) -> None:
    """No progress display."""


def _execute(
    spec: hooks.JobSpec,
    trigger_kind: str,
    user: auth.User,
    *,
    due_at: datetime | None = None,
    progress: hooks.Progress = _quiet,
) -> hooks.JobRun | None:
    """Claim, run, record, release, publish. None when another run holds the job or its slot."""
    holder = f"{_host()}:{time.monotonic_ns()}"
    if not _claim(spec, holder, due_at):
        return None
    try:
        started = datetime.now()
        _close_abandoned(spec, started)
        run_id = _start_row(spec, trigger_kind, user, started)
        if trigger_kind == "manual":
            audit.record(None, user, "job.run", "job", spec.name, detail={"run_id": run_id, "trigger": "manual"})
        watermark = warehouse.scalar("jobs_last_watermark", job=spec.name)
        ctx = hooks.JobContext(progress=progress, watermark=None if watermark is None else int(watermark))
        error, result = None, hooks.JobResult()
        try:
            result = spec.run(ctx)
        except Exception as exc:  # noqa: BLE001 - recorded as the run's error, shown on the Jobs page
            log.exception("job %s (run %s) failed", spec.name, run_id)
            error = (str(exc) or type(exc).__name__)[:2000]
        outcome = "failed" if error else ("skipped" if result.skipped else "ok")
        run = hooks.JobRun(
            run_id=run_id,
            name=spec.name,
            started_at=started,
            finished_at=datetime.now(),
            outcome=outcome,
            rows=0 if error else int(result.rows),
            error=error,
            note="" if error else result.note,
            trigger=trigger_kind,
            started_by=user.username,
        )
        _finish_row(run, None if error else result.watermark, user)
    finally:
        _release(spec, holder)
    for note in hooks.job_finished(run):
        log.warning(note)
    return run


def run_now(user: auth.User, name: str, progress: hooks.Progress = _quiet) -> hooks.JobRun:
    """Run a job at once (Jobs page "Run now", `lib.cli jobs run`); audited. A failing job
    returns a run with outcome 'failed' and its error (its own writes are rolled back)."""
    auth.require(user, "manage_jobs")
    spec = _spec(name)
    if not applies(spec):
        raise errors.ValidationError(
            f"The job {spec.name} applies to a {' or '.join(spec.modes)} warehouse, not to this one ({_mode()})."
        )
    run = _execute(spec, "manual", user, progress=progress)
    if run is None:
        raise JobBusyError(f"The job {spec.name} is running now; wait for it to finish (see its history).")
    return run


def run_due(now: datetime | None = None, names: list[str] | None = None) -> list[hooks.JobRun]:
    """Run every enabled job whose latest scheduled time (at or before `now`, at most GRACE
    ago) has not been claimed yet, as the system user. What the scheduler calls; a test can
    call it with its own clock. Each slot runs once, whichever process gets there first."""
    now = now or _now()
    done = []
    plan = schedules()
    for name, spec in specs().items():
        if names is not None and name not in names:
            continue
        cron, enabled = plan[name]
        if not enabled or not applies(spec):
            continue
        due = last_due(cron, now)
        if due is None or now - due > GRACE:
            continue
        run = _execute(spec, "schedule", auth.SYSTEM, due_at=due)
        if run is not None:
            done.append(run)
    return done


# ---------------------------------------------------------------- the admin area's own jobs


@hooks.job("snapshot", "0 2 * * *", modes=("file",), order=60)
def take_snapshot(ctx: hooks.JobContext) -> hooks.JobResult:
    """Nightly snapshot (kind 'scheduled'), then the backup_retention setting is applied.
    The warehouse pauses for the file copy only (lib/admin/backup.py)."""
    before = {m["id"] for m in backup.snapshots()}
    ctx.progress(0.1, "snapshot")
    manifest = backup.create(auth.SYSTEM, kind="scheduled", note="scheduled snapshot")
    ctx.progress(1.0, "snapshot")
    removed = sorted(before - {m["id"] for m in backup.snapshots()})
    rows = sum(t["rows"] for t in manifest["tables"].values())
    return hooks.JobResult(
        rows=rows,
        note=hooks.note("jobs.note.backup", id=manifest["id"], tables=len(manifest["tables"]), removed=len(removed)),
    )


@hooks.job("restore_drill", "0 4 * * 0", modes=("file",), order=70)
def restore_drill(ctx: hooks.JobContext) -> hooks.JobResult:
    """Restore the newest snapshot into a temporary copy and compare it with its manifest
    (backup.drill); the live warehouse is not touched. A failed check fails the job."""
    if not backup.snapshots():
        return hooks.JobResult(skipped=True, note=hooks.note("jobs.note.no_snapshot"))
    ctx.progress(0.1, "drill")
    result = backup.drill(auth.SYSTEM)
    ctx.progress(1.0, "drill")
    rows = sum(int(r.rows_found or 0) for r in result.tables)
    if not result.passed:
        failed = [r.table for r in result.tables if not r.ok] + [k for k, ok in result.checks.items() if not ok]
        raise JobFailed(f"restore drill of snapshot {result.snapshot_id} failed: {', '.join(failed)}")
    return hooks.JobResult(
        rows=rows, note=hooks.note("jobs.note.drill", id=result.snapshot_id, tables=len(result.tables))
    )


@hooks.job("lake_maintenance", "30 4 * * *", modes=("lake",), order=80)
def lake_maintenance(ctx: hooks.JobContext) -> hooks.JobResult:
    """Compact the lake (flush inlined rows, rewrite files with deletes, merge small files)."""
    from lib.core import lake

    handle, con = lake.maintenance_connection(warehouse.current_location().url)
    try:
        ctx.progress(0.1, "compact")
        result: dict[str, Any] = lake.compact(con, handle)
    finally:
        handle.close()
    ctx.progress(1.0, "compact")
    return hooks.JobResult(
        rows=int(result["rewritten_files"]) + int(result["merged_files"]),
        note=hooks.note("jobs.note.compact", **{k: f"{int(v):,}" for k, v in result.items()}),
    )
