"""Scheduled jobs on a lake: two app replicas (two OS processes) fire the same job for the same
scheduled times, and the lease row in the catalog lets exactly one of them run each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime

from lib.admin import jobs
from lib.core import i18n, warehouse
from lib.security import auth
from tests import factories
from tests.conftest import ROOT

SLOTS = [datetime(2026, 12, 2, h, 15, 30) for h in (9, 10, 11, 12)]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lake.workers", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "C360_DEMO": "1"},
    )


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_two_replicas_firing_the_same_scheduled_times_run_each_exactly_once(lake_spec, tmp_path):
    with warehouse.transaction() as tx:
        for i in (1, 2, 3):
            factories.customer(tx, i)
    warehouse.dispose()
    slots = ",".join(s.isoformat() for s in SLOTS)
    replicas = [_start("scheduler", lake_spec, str(tmp_path), "aggregates_refresh", slots) for _ in range(2)]
    time.sleep(3)  # both processes have imported the app and wait for the first time
    for i in range(len(SLOTS)):
        (tmp_path / f"go-{i}").write_text("go")  # the scheduled time comes, in both at once
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob(f"done-{i}-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    results = [_result(p) for p in replicas]

    assert [r["errors"] for r in results] == [[], []]
    ran = sorted(run for r in results for run in r["ran"])
    assert ran == [f"aggregates_refresh@{s:%H:%M}:ok" for s in SLOTS]  # four times, each once
    rows = warehouse.read("SELECT name, trigger, outcome, rows_touched, host FROM job_runs ORDER BY run_id")
    # the first run builds the aggregates; the next three find nothing changed and keep them
    assert (
        rows[["name", "trigger", "outcome", "rows_touched"]].values.tolist()
        == [["aggregates_refresh", "schedule", "ok", 3]] + [["aggregates_refresh", "schedule", "ok", 0]] * 3
    )
    assert {int(h.rsplit(":", 1)[1]) for h in rows["host"]} <= {r["pid"] for r in results}
    lease = warehouse.records("SELECT holder, due_at FROM job_leases WHERE name = 'aggregates_refresh'")
    assert lease == [{"holder": "", "due_at": datetime(2026, 12, 2, 12, 15)}]


def test_lake_maintenance_runs_as_a_job_on_a_lake_and_snapshots_do_not_apply(lake_spec):
    with warehouse.transaction() as tx:
        factories.customer(tx, 1)
    run = jobs.run_now(auth.SYSTEM, "lake_maintenance")
    assert run.outcome == "ok", run.error
    assert i18n.note_text(run.note).startswith("primed tables ")
    view = jobs.overview(auth.SYSTEM).set_index("name")
    assert view["applies"].to_dict() == {
        "aggregates_refresh": True,
        "quality_run": True,
        "incremental_matching": True,
        "search_index_rebuild": True,
        "rfm_refresh": True,
        "churn_rescore": True,
        "preferences_refresh": True,
        "clv_rescore": True,
        "snapshot": False,
        "restore_drill": False,
        "lake_maintenance": True,
    }
    assert jobs.run_due(now=datetime(2026, 12, 3, 2, 0, 5)) == []  # the nightly snapshot slot: file only
