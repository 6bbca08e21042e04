"""Scheduled jobs (lib/admin/jobs.py, lib/admin/scheduler.py): schedules, exactly-once runs of
due jobs, failures that leave data untouched, the snapshot and restore-drill jobs, audit,
the after-job hook and the CLI (`jobs list|run|history`, refused while the app holds the file)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import bcrypt
import pandas as pd
import pytest

from lib import cli
from lib.admin import backup, jobs, scheduler, setting_changes
from lib.core import errors, hooks, i18n, warehouse
from lib.marketing import rfm
from lib.security import auth
from lib.stewardship import quality
from tests import factories as f
from tests.conftest import ROOT

JOB_NAMES = [
    "aggregates_refresh",
    "quality_run",
    "incremental_matching",
    "search_index_rebuild",
    "rfm_refresh",
    "churn_rescore",
    "preferences_refresh",
    "clv_rescore",
    "snapshot",
    "restore_drill",
    "lake_maintenance",
]


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def filled(warehouse_path, tmp_path, monkeypatch):
    """Three customers (one with a malformed e-mail), two orders; snapshots in tmp_path/backups."""
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(tx, 1, mobile="+8613812345678", email="a@example.com")
        f.customer(tx, 2, full_name="李四", email="not-an-email")
        f.customer(tx, 3, full_name="王五")
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
        f.order(tx, 2, datetime(2024, 3, 1), 60.0)
    return tmp_path / "backups"


def runs() -> list[tuple]:
    return [
        tuple(r)
        for r in warehouse.read("SELECT name, trigger, started_by, outcome FROM job_runs ORDER BY run_id").itertuples(
            index=False
        )
    ]


def audit_actions(prefix: str = "job.") -> list[tuple]:
    frame = warehouse.read(
        "SELECT username, action, entity_id FROM audit_log WHERE action LIKE :p ORDER BY audit_id", p=prefix + "%"
    )
    return [tuple(r) for r in frame.itertuples(index=False)]


# ---------------------------------------------------------------- schedules


def test_every_job_is_declared_with_its_default_schedule():
    assert {name: spec.schedule for name, spec in jobs.specs().items()} == {
        "aggregates_refresh": "15 * * * *",
        "quality_run": "30 1 * * *",
        "incremental_matching": "45 * * * *",
        "search_index_rebuild": "45 4 * * 0",
        "rfm_refresh": "45 2 * * *",
        "churn_rescore": "0 3 * * *",
        "preferences_refresh": "15 3 * * *",
        "clv_rescore": "30 3 * * *",
        "snapshot": "0 2 * * *",
        "restore_drill": "0 4 * * 0",
        "lake_maintenance": "30 4 * * *",
    }
    assert jobs.specs()["snapshot"].modes == ("file",)
    assert jobs.specs()["lake_maintenance"].modes == ("lake",)


def test_next_run_and_last_due_follow_the_crontab():
    now = datetime(2026, 12, 2, 14, 20)  # a Wednesday
    assert jobs.next_run("0 2 * * *", now) == datetime(2026, 12, 3, 2, 0)
    assert jobs.last_due("0 2 * * *", now) == datetime(2026, 12, 2, 2, 0)
    assert jobs.next_run("15 * * * *", now) == datetime(2026, 12, 2, 15, 15)
    assert jobs.last_due("15 * * * *", now) == datetime(2026, 12, 2, 14, 15)
    assert jobs.last_due("0 4 * * 0", now) == datetime(2026, 11, 29, 4, 0)  # the Sunday before
    assert jobs.last_due("0 3 1 * *", now) == datetime(2026, 12, 1, 3, 0)
    assert jobs.last_due("0 2 * * *", datetime(2026, 12, 2, 2, 0)) == datetime(2026, 12, 2, 2, 0)


def test_a_malformed_schedule_is_refused_and_nothing_is_stored(filled, users):
    with pytest.raises(errors.ValidationError, match="is not a schedule"):
        jobs.set_schedule(users["admin"], "snapshot", "every night")
    assert warehouse.scalar("SELECT count(*) FROM job_schedules") == 0


def test_an_admin_changes_a_schedule_and_the_change_is_audited(filled, users):
    jobs.set_schedule(users["admin"], "snapshot", "30  1 * * *")
    jobs.set_schedule(users["admin"], "quality_run", "30 1 * * *", enabled=False)
    assert jobs.schedules()["snapshot"] == ("30 1 * * *", True)
    assert jobs.schedules()["quality_run"] == ("30 1 * * *", False)
    assert jobs.schedules()["churn_rescore"] == ("0 3 * * *", True)
    view = jobs.overview(users["admin"], now=datetime(2026, 12, 2, 14, 20)).set_index("name")
    assert view.loc["snapshot", "next_run"] == datetime(2026, 12, 3, 1, 30)
    assert pd.isna(view.loc["quality_run", "next_run"])
    assert bool(view.loc["lake_maintenance", "applies"]) is False
    assert audit_actions() == [("admin", "job.schedule", "snapshot"), ("admin", "job.schedule", "quality_run")]
    before, after = warehouse.one(
        "SELECT before, after FROM audit_log WHERE action = 'job.schedule' ORDER BY audit_id LIMIT 1"
    ).values()
    assert (before, after) == ({"cron": "0 2 * * *", "enabled": True}, {"cron": "30 1 * * *", "enabled": True})


def test_a_manager_may_not_see_run_or_reschedule_jobs(filled, users):
    for call in (
        lambda u: jobs.overview(u),
        lambda u: jobs.history(u),
        lambda u: jobs.run_now(u, "aggregates_refresh"),
        lambda u: jobs.set_schedule(u, "snapshot", "0 3 * * *"),
    ):
        with pytest.raises(auth.PermissionDenied):
            call(users["manager"])
    assert runs() == []


# ---------------------------------------------------------------- due runs, exactly once


def test_a_due_job_runs_exactly_once_per_scheduled_time(filled):
    # 10:15 is the aggregates' hourly slot; no other job is due between 10:15 and 10:25
    first = jobs.run_due(now=datetime(2026, 12, 2, 10, 15, 20))
    assert [(r.name, r.outcome, r.trigger, r.started_by) for r in first] == [
        ("aggregates_refresh", "ok", "schedule", "system")
    ]
    assert first[0].rows == 3  # customers aggregated
    assert jobs.run_due(now=datetime(2026, 12, 2, 10, 16)) == []  # the same slot: already run
    assert jobs.run_due(now=datetime(2026, 12, 2, 10, 24)) == []
    assert jobs.run_due(now=datetime(2026, 12, 2, 10, 40)) == []  # past the grace: not run late
    again = jobs.run_due(now=datetime(2026, 12, 2, 11, 15, 5))
    assert [r.name for r in again] == ["aggregates_refresh"]
    assert runs() == [("aggregates_refresh", "schedule", "system", "ok")] * 2


def test_a_disabled_job_is_not_run_at_its_time(filled, users):
    jobs.set_schedule(users["admin"], "aggregates_refresh", "15 * * * *", enabled=False)
    assert jobs.run_due(now=datetime(2026, 12, 2, 10, 15, 20)) == []
    assert runs() == []


def test_the_nightly_slot_runs_the_snapshot_then_the_drill_runs_on_sunday(filled):
    done = jobs.run_due(now=datetime(2026, 12, 3, 2, 0, 1))
    assert [(r.name, r.outcome) for r in done] == [("snapshot", "ok")]
    drill = jobs.run_due(now=datetime(2026, 12, 6, 4, 0, 3))  # a Sunday
    assert [(r.name, r.outcome) for r in drill] == [("restore_drill", "ok")]


def test_the_apscheduler_fires_a_job_at_its_time_and_takes_schedule_changes(filled, users, monkeypatch):
    """The real BackgroundScheduler: two firings for the same scheduled time run the job once,
    through run_due (so through the lease), in the scheduler's thread."""
    monkeypatch.setenv("C360_SCHEDULER", "on")
    fired: list[str] = []
    real = jobs.run_due

    def spy(now=None, names=None):
        fired.append(",".join(names or []))
        return real(now=now, names=names)

    monkeypatch.setattr(jobs, "run_due", spy)
    started = scheduler.start()
    try:
        assert scheduler.start() is started  # one per process
        deadline = time.monotonic() + 10
        while "aggregates_refresh" not in scheduler.next_runs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(scheduler.next_runs()) == set(JOB_NAMES) - {"lake_maintenance"}
        jobs.set_schedule(users["admin"], "quality_run", "0 5 * * *", enabled=False)
        assert "quality_run" not in scheduler.next_runs()
        # this minute of every hour: the current slot is due now
        jobs.set_schedule(users["admin"], "aggregates_refresh", f"{datetime.now().minute} * * * *")
        assert scheduler.next_runs()["aggregates_refresh"].minute == datetime.now().minute
        for delay, job_id in ((0, "now"), (1, "a second later")):
            started.add_job(
                scheduler.fire,
                "date",
                run_date=datetime.now() + timedelta(seconds=delay),
                args=["aggregates_refresh"],
                id=job_id,
            )
        deadline = time.monotonic() + 20
        while (len(fired) < 2 or [r[3] for r in runs()] != ["ok"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert fired == ["aggregates_refresh", "aggregates_refresh"]
    assert runs() == [("aggregates_refresh", "schedule", "system", "ok")]
    assert scheduler.running() is None


def test_the_scheduler_is_not_started_when_switched_off(monkeypatch):
    monkeypatch.setenv("C360_SCHEDULER", "off")
    assert scheduler.start() is None and scheduler.running() is None


# ---------------------------------------------------------------- failures


def test_a_failing_job_records_its_error_audits_it_and_leaves_the_data_untouched(filled, users, monkeypatch):
    first = jobs.run_now(users["admin"], "quality_run")
    assert first.outcome == "ok" and first.rows == 3
    before = backup.live_checksums()
    published: list[hooks.JobRun] = []
    hooks.after_job(published.append)

    def broken(results):
        raise RuntimeError("injected failure while scoring")

    monkeypatch.setattr(quality, "overall_score", broken)  # after results and flags were written
    try:
        run = jobs.run_now(users["admin"], "quality_run")
    finally:
        hooks._job_hooks.remove(published.append)
    assert (run.outcome, run.rows, run.error) == ("failed", 0, "injected failure while scoring")
    after = backup.live_checksums()
    changed = sorted(k for k in before if before[k] != after.get(k))
    # quality tables as they were; the lease is free again; the failure raised an alert
    assert changed == ["alerts", "audit_log", "job_runs"]
    assert warehouse.records("SELECT rule, subject, status FROM alerts") == [
        {"rule": "job_failed", "subject": "quality_run", "status": "open"}
    ]
    assert warehouse.scalar("SELECT count(*) FROM quality_runs") == 1
    assert [(p.name, p.outcome, p.error) for p in published] == [
        ("quality_run", "failed", "injected failure while scoring")
    ]
    assert audit_actions() == [
        ("admin", "job.run", "quality_run"),
        ("admin", "job.run", "quality_run"),
        ("admin", "job.failed", "quality_run"),
    ]
    history = jobs.history(users["admin"], "quality_run")
    assert history["outcome"].tolist() == ["failed", "ok"]
    assert history["error"].iloc[0] == "injected failure while scoring" and pd.isna(history["error"].iloc[1])
    assert jobs.last_success("quality_run") == history["finished_at"].iloc[1]


def test_a_failed_scheduled_run_is_audited_as_the_system_user(filled, monkeypatch):
    from lib.dashboards import aggregates

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(aggregates, "refresh", broken)
    [run] = jobs.run_due(now=datetime(2026, 12, 2, 10, 15, 20))
    assert (run.outcome, run.error, run.started_by) == ("failed", "disk full", "system")
    assert audit_actions() == [("system", "job.failed", "aggregates_refresh")]
    assert jobs.last_success("aggregates_refresh") is None


def test_a_job_running_elsewhere_is_not_started_twice(filled, users):
    spec = jobs.specs()["aggregates_refresh"]
    assert jobs._claim(spec, "other-host:1", None)
    with pytest.raises(jobs.JobBusyError, match="running now"):
        jobs.run_now(users["admin"], "aggregates_refresh")
    assert audit_actions() == []  # a refused run is not recorded as run
    assert jobs.run_due(now=datetime(2026, 12, 2, 10, 15, 20)) == []  # nor by the scheduler
    jobs._release(spec, "other-host:1")
    assert jobs.run_now(users["admin"], "aggregates_refresh").outcome == "ok"


def test_a_lease_row_ensured_twice_at_once_is_folded_into_one_by_the_next_claim(filled, users):
    """On a lake two processes ensuring the lease in the same instant each insert its row."""
    spec = jobs.specs()["aggregates_refresh"]
    with warehouse.transaction() as tx:
        for _ in range(2):
            tx.run("jobs_lease_insert", job=spec.name, holder="", due_at=None, expires_at=datetime(1970, 1, 1))
    assert jobs._claim(spec, "other-host:1", datetime(2026, 12, 2, 10, 15))
    lease = warehouse.records("SELECT holder, due_at FROM job_leases WHERE name = 'aggregates_refresh'")
    assert lease == [{"holder": "other-host:1", "due_at": datetime(2026, 12, 2, 10, 15)}]
    assert not jobs._claim(spec, "this-host:2", datetime(2026, 12, 2, 10, 15))  # the slot is taken


def test_a_run_left_running_by_a_stopped_process_is_closed_as_failed_by_the_next_run(filled, users):
    spec = jobs.specs()["aggregates_refresh"]
    jobs._start_row(spec, "schedule", auth.SYSTEM, datetime(2026, 12, 2, 10, 15))  # then the process died
    run = jobs.run_now(users["admin"], "aggregates_refresh")
    history = jobs.history(users["admin"], "aggregates_refresh")
    assert history["outcome"].tolist() == ["ok", "failed"] and run.run_id == history["run_id"].iloc[0]
    assert history["error"].iloc[1].startswith("The process running this job stopped before it finished")


def test_a_lake_only_job_is_refused_on_a_file_warehouse(filled, users):
    with pytest.raises(errors.ValidationError, match="applies to a lake warehouse"):
        jobs.run_now(users["admin"], "lake_maintenance")
    with pytest.raises(errors.NotFoundError, match="no job 'nightly'"):
        jobs.run_now(users["admin"], "nightly")


# ---------------------------------------------------------------- the jobs


def test_the_aggregates_job_keeps_them_when_nothing_they_count_changed(filled, users):
    first = jobs.run_now(users["admin"], "aggregates_refresh")
    assert first.outcome == "ok"
    version = warehouse.data_version()
    kept = jobs.run_now(users["admin"], "aggregates_refresh")
    assert (kept.outcome, kept.rows) == ("ok", 0) and i18n.note_text(kept.note).startswith("Unchanged since ")
    assert warehouse.data_version() == version  # the pages' caches are not emptied
    with warehouse.transaction() as tx:
        tx.run(
            "UPDATE customers SET lifecycle_stage = 'churned' WHERE customer_id = (SELECT min(customer_id) FROM customers)"
        )
    rebuilt = jobs.run_now(users["admin"], "aggregates_refresh")
    assert (
        rebuilt.rows > 0
        and " customers, " in i18n.note_text(rebuilt.note)
        and not i18n.note_text(rebuilt.note).startswith("Unchanged")
    )


def test_the_snapshot_job_takes_a_scheduled_snapshot_and_applies_retention(filled, users):
    setting_changes.put(users["admin"], "backup_retention", 2)
    old = [backup.create(users["admin"], note=f"manual {i}")["id"] for i in range(2)]
    run = jobs.run_now(users["admin"], "snapshot")
    assert run.outcome == "ok"
    kept = backup.snapshots()
    assert [m["kind"] for m in kept] == ["scheduled", "manual"]
    assert kept[1]["id"] == old[1]
    assert (
        i18n.note_text(run.note)
        == f"snapshot {kept[0]['id']}: {len(kept[0]['tables'])} tables; 1 older snapshot(s) removed by retention"
    )
    assert run.rows == sum(t["rows"] for t in kept[0]["tables"].values())


def test_the_restore_drill_job_verifies_the_newest_snapshot_without_touching_the_warehouse(filled, users):
    skipped = jobs.run_now(users["admin"], "restore_drill")
    assert (skipped.outcome, i18n.note_text(skipped.note)) == ("skipped", "There is no snapshot to drill yet.")
    snap = backup.create(users["admin"])
    live = {k: v for k, v in backup.live_checksums().items() if k not in ("audit_log", "job_runs", "job_leases")}
    run = jobs.run_now(users["admin"], "restore_drill")
    assert run.outcome == "ok", run.error
    assert i18n.note_text(run.note) == f"snapshot {snap['id']}: {len(snap['tables'])} tables verified"
    after = {k: v for k, v in backup.live_checksums().items() if k not in ("audit_log", "job_runs", "job_leases")}
    assert after == live
    assert ("system", "backup.drill", snap["id"]) in audit_actions("backup.")


def test_a_drill_that_finds_a_damaged_snapshot_fails_the_job(filled, users):
    snap = backup.create(users["admin"])
    (filled / snap["id"] / backup.ENCRYPTED_FILE).write_bytes(b"damaged")
    run = jobs.run_now(users["admin"], "restore_drill")
    assert run.outcome == "failed"
    assert run.error.startswith(f"restore drill of snapshot {snap['id']} failed: ")


def test_rescoring_without_a_trained_model_is_skipped_with_a_note(filled, users):
    churn_run = jobs.run_now(users["admin"], "churn_rescore")
    clv_run = jobs.run_now(users["admin"], "clv_rescore")
    matching = jobs.run_now(users["admin"], "incremental_matching")
    assert [(r.outcome, r.rows) for r in (churn_run, clv_run, matching)] == [("skipped", 0)] * 3
    assert i18n.note_text(churn_run.note).startswith("No churn model has been trained yet")
    assert i18n.note_text(clv_run.note).startswith("No CLV model has been fitted yet")
    assert i18n.note_text(matching.note).startswith("No duplicate model yet")
    assert warehouse.scalar("SELECT count(*) FROM churn_scores") == 0


def test_the_rfm_job_builds_the_snapshot_as_of_the_data_date(filled, users):
    setting_changes.put_system("data_as_of", "2024-06-30")
    assert rfm.snapshot_info()["as_of"] is None
    run = jobs.run_now(users["admin"], "rfm_refresh")
    assert (run.outcome, run.rows) == ("ok", 2)  # the two customers with a purchase
    assert rfm.snapshot_info() == {"as_of": date(2024, 6, 30), "customers": 2}
    assert i18n.note_text(run.note) == "2 customers with a purchase, as of 2024-06-30"
    assert ("system", "rfm.refresh", "2024-06-30") in audit_actions("rfm.")


# ---------------------------------------------------------------- CLI


def cli_run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_runs_a_job_then_lists_it_and_shows_its_history(filled, capsys):
    warehouse.dispose()
    code, out, _ = cli_run(capsys, "jobs", "run", "aggregates_refresh")
    assert code == 0
    assert out.startswith("job aggregates_refresh (run 1): ok, 3 rows, ")
    code, out, _ = cli_run(capsys, "jobs", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 + len(JOB_NAMES)
    assert [line.split()[0] for line in lines[1:]] == JOB_NAMES
    assert lines[1].split()[1:6] == ["15", "*", "*", "*", "*"] and " ok " in lines[1]
    assert "n/a here" in lines[-1]
    code, out, _ = cli_run(capsys, "jobs", "history")
    assert code == 0 and out.split()[:5] == [
        "1",
        "aggregates_refresh",
        datetime.now().strftime("%Y-%m-%d"),
        out.split()[3],
        "manual",
    ]
    assert ("system", "job.run", "aggregates_refresh") in audit_actions()


def test_cli_reports_a_failed_job_with_exit_code_1(filled, capsys):
    snap_dir = filled
    code, out, _ = cli_run(capsys, "jobs", "run", "snapshot")
    assert code == 0
    snap = backup.snapshots()[0]
    (snap_dir / snap["id"] / backup.ENCRYPTED_FILE).write_bytes(b"damaged")
    code, out, _ = cli_run(capsys, "jobs", "run", "restore_drill")
    assert code == 1 and out.startswith("job restore_drill (run 2) failed after ")


def test_cli_refuses_with_one_line_while_the_app_holds_the_file(filled, capsys):
    warehouse.dispose()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(filled.parent / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        for argv in (("jobs", "list"), ("jobs", "run", "snapshot"), ("jobs", "history")):
            code, out, err = cli_run(capsys, *argv)
            assert code == 2 and out == ""
            assert len(err.strip().splitlines()) == 1
            assert err.startswith("error: The warehouse ") and "is open in another process" in err
    finally:
        holder.kill()
        holder.wait()


def test_incremental_matching_sets_a_starting_point_then_matches_only_new_customers(warehouse_path, users):
    from bench.chinese_records import generate
    from bench.matching import load_direct
    from lib.stewardship import dedup

    records, _ = generate(persons=300, seed=11)
    load_direct({"crm": records}, "chinese")
    dedup.run(users["steward"], max_pairs_u=2e5)
    newest = warehouse.scalar("SELECT max(customer_id) FROM customers")
    first = jobs.run_now(users["admin"], "incremental_matching")
    assert (first.outcome, first.rows) == ("ok", 0)
    assert (
        i18n.note_text(first.note)
        == f"Starting point set at customer id {newest:,}; customers added after it are matched from now on."
    )
    # a copy of customer 1 arrives by other means than an import (no matching at load)
    warehouse.read(
        "INSERT INTO customers SELECT * REPLACE (:id AS customer_id, 'copy-1' AS source_record_id) "
        "FROM customers WHERE customer_id = 1 RETURNING customer_id",
        id=newest + 1,
    )
    pairs_before = warehouse.scalar("SELECT count(*) FROM dedup_candidates")
    second = jobs.run_now(users["admin"], "incremental_matching")
    pairs = warehouse.read(
        "SELECT customer_id_l, customer_id_r FROM dedup_candidates WHERE customer_id_r = :id OR customer_id_l = :id",
        id=newest + 1,
    )
    assert (
        second.outcome == "ok"
        and second.rows == warehouse.scalar("SELECT count(*) FROM dedup_candidates") - pairs_before
    )
    assert (1, newest + 1) in set(zip(pairs["customer_id_l"], pairs["customer_id_r"]))
    assert (
        i18n.note_text(second.note) == f"1 new customer(s) matched; {second.rows:,} new candidate pair(s) for review."
    )
    third = jobs.run_now(users["admin"], "incremental_matching")
    assert (third.outcome, third.rows, i18n.note_text(third.note)) == ("ok", 0, "No new customers since the last run.")


def test_a_job_that_has_not_succeeded_for_longer_than_its_interval_is_reported_overdue(filled, users):
    from lib.admin import alerts

    done = jobs.run_now(users["admin"], "quality_run")  # nightly at 01:30
    assert alerts.jobs_overdue(done.finished_at + timedelta(hours=20)) == []
    [raised] = alerts.jobs_overdue(done.finished_at + timedelta(days=3))
    assert raised.new
    assert warehouse.records("SELECT rule, subject FROM alerts") == [{"rule": "job_overdue", "subject": "quality_run"}]


def test_a_jobs_note_reads_in_the_readers_language():
    """Notes are stored as a text key and values: an admin reading in Chinese sees them in
    Chinese, the same run in English in English, and notes stored as plain text (runs recorded
    before) stay as they were."""
    stored = hooks.note("jobs.note.matched", customers="1,408", pairs=12)
    assert i18n.note_text(stored) == "1,408 new customer(s) matched; 12 new candidate pair(s) for review."
    i18n.set_language("zh")
    try:
        assert i18n.note_text(stored) == "已匹配 1,408 位新客户；新增 12 个待审核候选对。"
    finally:
        i18n.set_language("en")
    assert i18n.note_text("snapshot 3: 12 tables verified") == "snapshot 3: 12 tables verified"
    assert i18n.note_text(None) is None
