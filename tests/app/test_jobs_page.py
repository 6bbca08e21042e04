"""AppTest of the Jobs page (pages/34_jobs.py): the admin sees every job, runs one now and
finds it in the history, changes a schedule, sees a failed run's error; a manager is refused."""

from __future__ import annotations

from datetime import datetime

import bcrypt
import pytest

from lib.admin import jobs
from lib.core import warehouse
from lib.security import auth
from tests import factories as f
from tests.app.helpers import as_user, open_page

PAGE = "pages/34_jobs.py"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def customers(warehouse_path, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(tx, 1, mobile="+8613812345678")
        f.customer(tx, 2, full_name="李四")
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
    return warehouse_path


def admin_page():
    at = open_page(as_user("admin"), PAGE)
    assert not at.exception, at.exception
    return at


def tables(at):
    return [d.value for d in at.dataframe]


def test_the_admin_sees_every_job_with_its_schedule_and_next_run(customers):
    at = admin_page()
    jobs_table = tables(at)[0]
    assert list(jobs_table.columns) == [
        "Job",
        "Schedule",
        "Last run",
        "Duration (s)",
        "Outcome",
        "Rows",
        "Next run",
        "Detail",
    ]
    assert jobs_table["Job"].tolist() == [
        "Dashboard aggregates refresh",
        "Data quality run",
        "Incremental duplicate matching",
        "Customer search index rebuild",
        "RFM snapshot refresh",
        "Churn risk rescoring",
        "Category preferences refresh",
        "CLV rescoring",
        "Snapshot (backup) with retention",
        "Restore drill",
        "Lake maintenance (compaction)",
    ]
    assert jobs_table["Schedule"].tolist()[:10] == [
        "15 * * * *",
        "30 1 * * *",
        "45 * * * *",
        "45 4 * * 0",
        "45 2 * * *",
        "0 3 * * *",
        "15 3 * * *",
        "30 3 * * *",
        "0 2 * * *",
        "0 4 * * 0",
    ]
    assert jobs_table["Schedule"].iloc[10] == "Not for this deployment"
    assert jobs_table["Last run"].tolist() == ["—"] * 11  # empty cells: i18n.display_frame
    assert jobs_table["Next run"].iloc[8] == f"{jobs.next_run('0 2 * * *'):%Y-%m-%d %H:%M}"
    assert tables(at)[0].astype(str).apply(lambda c: c.isin(["None", "nan", "NaT"])).sum().sum() == 0
    assert any(i.value == "No runs yet." for i in at.info)


def test_run_now_with_nothing_changed_says_the_aggregates_were_kept(customers):
    at = admin_page()  # the aggregates are built on first need, from the data as it is
    next(b for b in at.button if b.label == "Run now").click()
    at.run()
    assert not at.exception, at.exception
    message = [s.value for s in at.success][0]
    assert message.startswith("Dashboard aggregates refresh: done, 0 rows in ")
    assert "Unchanged since " in message and "kept (2 customers, 1 orders, 1 events)" in message


def test_run_now_shows_the_outcome_and_the_run_in_the_history(customers):
    at = admin_page()
    with warehouse.transaction() as tx:  # a change the aggregates count: the run rebuilds them
        tx.run("UPDATE customers SET lifecycle_stage = 'churned' WHERE customer_id = 1")
    next(b for b in at.button if b.label == "Run now").click()
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][0].startswith("Dashboard aggregates refresh: done, 2 rows in ")
    history = tables(at)[1]
    assert history[["Run", "Job", "Started by", "User", "Outcome", "Rows"]].values.tolist() == [
        [1, "Dashboard aggregates refresh", "Run now", "admin", "OK", "2"]
    ]
    assert tables(at)[0]["Outcome"].iloc[0] == "OK"
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'job.run' AND username = 'admin'") == 1


def test_a_failed_run_shows_its_error_on_the_page(customers, monkeypatch):
    from lib.dashboards import aggregates

    def broken():
        raise RuntimeError("injected failure")

    with monkeypatch.context() as m:
        m.setattr(aggregates, "refresh", broken)
        jobs.run_now(auth.SYSTEM, "aggregates_refresh")
    at = admin_page()
    errors = [e.value for e in at.error]
    assert any(
        e.startswith("Dashboard aggregates refresh failed at ") and e.endswith(": injected failure") for e in errors
    )
    assert tables(at)[0]["Outcome"].iloc[0] == "Failed"
    assert tables(at)[0]["Detail"].iloc[0] == "injected failure"


def test_the_admin_changes_a_schedule(customers):
    at = admin_page()
    at.selectbox(key="jobs_schedule_choice").set_value("snapshot").run()
    cron = next(w for w in at.text_input if w.label == "Schedule (crontab)")
    assert cron.value == "0 2 * * *"
    cron.input("30 1 * * *")
    next(b for b in at.button if b.label == "Save schedule").click()
    at.run()
    assert not at.exception, at.exception
    assert "Schedule of Snapshot (backup) with retention saved: 30 1 * * *." in [s.value for s in at.success]
    assert tables(at)[0]["Schedule"].iloc[8] == "30 1 * * *"
    assert jobs.schedules()["snapshot"] == ("30 1 * * *", True)


def test_a_malformed_schedule_shows_the_reason_and_changes_nothing(customers):
    at = admin_page()
    next(w for w in at.text_input if w.label == "Schedule (crontab)").input("nightly")
    next(b for b in at.button if b.label == "Save schedule").click()
    at.run()
    assert any("'nightly' is not a schedule" in e.value for e in at.error)
    assert warehouse.scalar("SELECT count(*) FROM job_schedules") == 0


@pytest.mark.parametrize("username", ["manager", "marketing", "steward"])
def test_other_roles_are_refused(customers, username):
    at = open_page(as_user(username), PAGE)
    assert any("do not allow" in e.value for e in at.error)
    assert tables(at) == []
