"""The scheduler that lives with the app: one APScheduler BackgroundScheduler per serving process.

`start()` is called once per process by the server's entry point (serve.py, which Streamlit
imports once, whatever the number of browser sessions); a module-level singleton guards
against a second start (a re-import, a test). It fires each job on its crontab schedule in
one worker thread (jobs run one after the other, never two heavy ones at once on a small
server), calling `jobs.run_due` for that job:

* file warehouse: the jobs run inside the process that holds the DuckDB file, through the same
  engine as the pages, so no second process ever fights for the lock;
* lake: every replica runs a scheduler; the job's lease row in the catalog lets exactly one
  of them run each scheduled time (jobs.run_due claims the slot first).

Schedules changed on the Jobs page take effect at once in this process and within
SYNC_SECONDS in the other replicas. Set C360_SCHEDULER=off to run a server without it (the
jobs can still be run from the Jobs page or `python -m lib.cli jobs run NAME`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from lib.admin import jobs
from lib.core import i18n

log = logging.getLogger(__name__)

SYNC_SECONDS = 60
MISFIRE_GRACE_SECONDS = int(jobs.GRACE.total_seconds())

_lock = threading.Lock()
_scheduler: BackgroundScheduler | None = None
_installed: dict[str, str] = {}  # job name -> crontab currently installed


def enabled() -> bool:
    return os.environ.get("C360_SCHEDULER", "on").strip().lower() not in ("off", "0", "false", "no")


def running() -> BackgroundScheduler | None:
    """This process's scheduler, if started."""
    return _scheduler


def start() -> BackgroundScheduler | None:
    """Start this process's scheduler (once; later calls return the same one)."""
    global _scheduler
    if not enabled():
        return None
    with _lock:
        if _scheduler is not None:
            return _scheduler
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        scheduler.add_job(sync, "interval", seconds=SYNC_SECONDS, id="_sync", next_run_time=datetime.now())
        _scheduler = scheduler  # before start(): its first sync runs at once, in its thread
        scheduler.start()
        jobs.on_schedule_change(sync)
        atexit.register(stop)
        log.info("job scheduler started (%s)", ", ".join(jobs.specs()))
        return scheduler


def stop() -> None:
    global _scheduler
    with _lock:
        if _scheduler is not None:
            _scheduler.shutdown(wait=False)
            _scheduler = None
            _installed.clear()


def sync() -> None:
    """Install each job's current schedule (stored or default); remove disabled ones."""
    scheduler = _scheduler
    if scheduler is None:
        return
    try:
        plan = jobs.schedules()
        specs = jobs.specs()
    except Exception as exc:  # noqa: BLE001 - a warehouse not ready yet: the next sync retries
        log.warning("job schedules not read (retrying in %s s): %s", SYNC_SECONDS, exc)
        return
    with _lock:
        for name, (cron, on) in plan.items():
            wanted = cron if on and jobs.applies(specs[name]) else None
            if _installed.get(name) == wanted:
                continue
            if wanted is None:
                if scheduler.get_job(name) is not None:
                    scheduler.remove_job(name)
                _installed.pop(name, None)
            else:
                scheduler.add_job(fire, jobs.trigger(wanted), args=[name], id=name, replace_existing=True)
                _installed[name] = wanted


def fire(name: str) -> None:
    """A job's scheduled time has come: run it unless another process already did."""
    try:
        for run in jobs.run_due(names=[name]):
            log.info("job %s: %s (%s rows) %s", run.name, run.outcome, run.rows, run.error or i18n.note_text(run.note))
    except Exception:  # noqa: BLE001 - keep the scheduler alive; the run (if any) recorded its error
        log.exception("scheduled job %s could not run", name)


def next_runs() -> dict[str, datetime]:
    """Next fire time of each job installed in this process's scheduler."""
    scheduler = _scheduler
    if scheduler is None:
        return {}
    return {
        j.id: j.next_run_time.replace(tzinfo=None)
        for j in scheduler.get_jobs()
        if not j.id.startswith("_") and j.next_run_time
    }
