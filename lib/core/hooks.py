"""After-load hooks: an area reacts to another area's committed write without importing it.

The stewardship import and merges publish `loaded(Load(...))` after their transaction
committed; the dashboards' aggregates (and anything else that derives data from customers,
orders and events) subscribe with `@hooks.after_load`. The subscribing modules are declared
here, in SUBSCRIBERS, and imported by name the first time a load is published, so a job that
never imported the dashboards still refreshes them, and core imports no area.

A subscriber that fails does not undo the load (it is committed): its failure is logged and
returned as a note for the caller to show.

The same module holds the registry of scheduled jobs (`@hooks.job`, declared by each area in
its `jobs.py`, listed in JOB_PROVIDERS) and the after-job event (`@hooks.after_job`, told of
every finished `JobRun`; subscribers listed in JOB_SUBSCRIBERS), so lib/admin/jobs.py runs
the areas' jobs and the alerts hear of them without either importing the other.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)

# Modules that subscribe (their import registers their hooks), in the order they run.
SUBSCRIBERS: tuple[str, ...] = ("lib.dashboards.aggregates", "lib.marketing.preferences")


@dataclass(frozen=True)
class Load:
    """What was written: `kind` is "import", "merge", "unmerge", or "create", "delete",
    "restore" (a customer added, soft-deleted or restored by hand); `source` names the writer
    (an import id, a merge id); `customer_ids` are the customers that are new."""

    kind: str
    source: str = ""
    customer_ids: tuple[int, ...] = ()


Hook = Callable[[Load], None]
_hooks: list[Hook] = []
_subscribed = False


def after_load(hook: Hook) -> Hook:
    """Decorator: run `hook(load)` after every published load."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def _subscribe() -> None:
    global _subscribed
    if not _subscribed:
        for name in SUBSCRIBERS:
            importlib.import_module(name)
        _subscribed = True


def loaded(load: Load) -> list[str]:
    """Run every subscriber for a committed load; returns notes about the ones that failed."""
    _subscribe()
    notes = []
    for hook in list(_hooks):
        try:
            hook(load)
        except Exception as exc:  # noqa: BLE001 - the load is committed; report, don't fail it
            where = f"{hook.__module__}.{hook.__qualname__}"
            log.warning("after-load hook %s failed after %s %s: %s", where, load.kind, load.source, exc)
            notes.append(f"{where} failed: {exc}")
    return notes


# ---------------------------------------------------------------- scheduled jobs
#
# The jobs the scheduler runs (lib/admin/jobs.py, lib/admin/scheduler.py) are declared in the
# area that owns the work, with `@hooks.job(name, schedule)`, in the modules listed in
# JOB_PROVIDERS (imported by name, as SUBSCRIBERS are): the admin area runs them without
# importing the dashboards, stewardship or marketing areas.

# (Built from the area names: tools/restructure_map.py rewrites a literal dotted name that
# starts like the old flat marketing module, which the marketing job module's name does.)
JOB_PROVIDERS: tuple[str, ...] = tuple(
    f"lib.{area}.jobs" for area in ("dashboards", "stewardship", "marketing", "admin")
)

# Modules that subscribe to finished job runs with `@hooks.after_job` (alerts: lib.admin.alerts).
JOB_SUBSCRIBERS: tuple[str, ...] = ("lib.admin.alerts",)  # the failed and overdue job alerts


Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class JobContext:
    """What a job gets: `progress(fraction, text)` for the Run-now bar, and `watermark`, the
    highest id the job's last successful run handled (incremental jobs; None the first time)."""

    progress: Progress
    watermark: int | None = None


@dataclass(frozen=True)
class JobResult:
    """What a job did: `rows` touched, a `note` for people, `skipped` when there was nothing it
    could do (no model trained yet, no snapshot), `watermark` for the next incremental run."""

    rows: int = 0
    note: str = ""
    skipped: bool = False
    watermark: int | None = None


def note(key: str, **values: Any) -> str:
    """A job's note stored as its text key and values, so that every reader sees it in their
    own language (i18n.note_text); numbers come formatted, "1,408"."""
    return json.dumps({"note": key, "values": {k: str(v) for k, v in values.items()}}, ensure_ascii=False)


@dataclass(frozen=True)
class JobSpec:
    """A job: `name` (also the i18n key jobs.name.<name>), its default crontab `schedule`
    (minute hour day month weekday, local time), the warehouse kinds it applies to ("file",
    "lake"), and `lease_minutes`, after which a crashed run's lease lapses."""

    name: str
    run: Callable[[JobContext], JobResult]
    schedule: str
    modes: tuple[str, ...] = ("file", "lake")
    lease_minutes: int = 120
    order: int = 100


_jobs: dict[str, JobSpec] = {}
_jobs_loaded = False


def job(
    name: str, schedule: str, *, modes: tuple[str, ...] = ("file", "lake"), lease_minutes: int = 120, order: int = 100
):
    """Decorator: declare `fn(ctx) -> JobResult` as the scheduled job `name`."""

    def register(fn: Callable[[JobContext], JobResult]) -> Callable[[JobContext], JobResult]:
        _jobs[name] = JobSpec(name, fn, schedule, modes, lease_minutes, order)
        return fn

    return register


def jobs() -> dict[str, JobSpec]:
    """Every declared job, in display order."""
    global _jobs_loaded
    if not _jobs_loaded:
        for module in JOB_PROVIDERS:
            importlib.import_module(module)
        _jobs_loaded = True
    return dict(sorted(_jobs.items(), key=lambda kv: (kv[1].order, kv[0])))


@dataclass(frozen=True)
class JobRun:
    """One finished run, as published to `@hooks.after_job` subscribers.

    run_id: job_runs.run_id; name: the job; started_at / finished_at: naive local times;
    outcome: 'ok' | 'failed' | 'skipped'; rows: rows touched (0 when failed or skipped);
    error: the failure's message (None unless failed); note: what it did or why it skipped;
    trigger: 'schedule' | 'manual'; started_by: 'system' for scheduled runs, else the user.
    """

    run_id: int
    name: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    rows: int = 0
    error: str | None = None
    note: str = ""
    trigger: str = "manual"
    started_by: str = "system"


JobHook = Callable[[JobRun], None]
_job_hooks: list[JobHook] = []
_job_subscribed = False


def after_job(hook: JobHook) -> JobHook:
    """Decorator: run `hook(run)` after every finished job run (ok, failed or skipped)."""
    if hook not in _job_hooks:
        _job_hooks.append(hook)
    return hook


def job_finished(run: JobRun) -> list[str]:
    """Tell every subscriber that a job run finished; returns notes about subscribers that failed
    (a subscriber's failure never changes the run's recorded outcome)."""
    global _job_subscribed
    if not _job_subscribed:
        for name in JOB_SUBSCRIBERS:
            importlib.import_module(name)
        _job_subscribed = True
    notes = []
    for hook in list(_job_hooks):
        try:
            hook(run)
        except Exception as exc:  # noqa: BLE001 - the run is recorded; report, don't fail it
            where = f"{hook.__module__}.{hook.__qualname__}"
            log.warning("after-job hook %s failed after %s run %s: %s", where, run.name, run.run_id, exc)
            notes.append(f"{where} failed: {exc}")
    return notes
