"""Scheduled jobs from a shell: `jobs list`, `jobs run NAME`, `jobs history [NAME]`.

    python -m lib.cli jobs list
    python -m lib.cli jobs run snapshot
    python -m lib.cli jobs history [NAME] [--limit 20]

The running app runs these jobs on their schedules itself (lib/admin/scheduler.py). On a file
warehouse the app holds the file: these commands then stop with one line saying so (exit 2);
use the Jobs page instead. On a lake they work while the app runs (the lease keeps one run of
a job at a time). Runs are recorded and audited as the system user, like scheduled ones.
"""

from __future__ import annotations

import sys

import pandas as pd

from lib.admin import jobs
from lib.core import i18n, warehouse
from lib.security import auth


def register(subparsers) -> None:
    p = subparsers.add_parser("jobs", help="scheduled jobs: list, run one now, history")
    sub = p.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    c = sub.add_parser("list", help="every job: schedule, last run and outcome, next run")
    c.set_defaults(func=cmd_list)
    c = sub.add_parser("run", help="run one job now (recorded in the history, audited)")
    c.add_argument("name")
    c.set_defaults(func=cmd_run)
    c = sub.add_parser("history", help="past runs, newest first")
    c.add_argument("name", nargs="?", default=None)
    c.add_argument("--limit", type=int, default=20)
    c.set_defaults(func=cmd_history)


def _when(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:%Y-%m-%d %H:%M}"


def _seconds(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1f} s"


def _count(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{int(value):,}"


def cmd_list(args) -> int:
    warehouse.migrate()
    frame = jobs.overview(auth.SYSTEM)
    print(f"{'job':<22} {'schedule':<14} {'last run':<16} {'outcome':<8} {'rows':>10} {'time':>8}  next run")
    for r in frame.to_dict("records"):
        schedule = r["schedule"] if r["enabled"] else "off"
        if not r["applies"]:
            schedule = "n/a here"
        print(
            f"{r['name']:<22} {schedule:<14} {_when(r['last_run']):<16} {r['outcome'] if isinstance(r['outcome'], str) else '–':<8} "
            f"{_count(r['rows']):>10} {_seconds(r['duration_s']):>8}  {_when(r['next_run'])}"
        )
    return 0


def _progress(fraction: float, text: str) -> None:
    print(f"\r{int(fraction * 100):3d}% {text:<12}", end="", file=sys.stderr, flush=True)


def cmd_run(args) -> int:
    warehouse.migrate()
    run = jobs.run_now(auth.SYSTEM, args.name, progress=_progress)
    print(file=sys.stderr)
    seconds = (run.finished_at - run.started_at).total_seconds()
    if run.outcome == "failed":
        print(f"job {run.name} (run {run.run_id}) failed after {seconds:.0f} s: {run.error}")
        return 1
    print(
        f"job {run.name} (run {run.run_id}): {run.outcome}, {run.rows:,} rows, {seconds:.0f} s. {i18n.note_text(run.note)}"
    )
    return 0


def cmd_history(args) -> int:
    warehouse.migrate()
    frame = jobs.history(auth.SYSTEM, args.name, args.limit)
    if frame.empty:
        print("no runs yet")
    for r in frame.to_dict("records"):
        detail = r["error"] if r["outcome"] == "failed" else i18n.note_text(r["note"])
        print(
            f"{r['run_id']:>6} {r['name']:<22} {_when(r['started_at']):<16} {r['trigger']:<8} "
            f"{r['outcome']:<8} {_count(r['rows_touched']):>10} {_seconds(r['duration_s']):>8}  {detail or ''}"
        )
    return 0
