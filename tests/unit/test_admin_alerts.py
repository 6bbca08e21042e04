"""Alert rules: each fires on a constructed case, stays quiet below its threshold, de-duplicates;
the inbox shows stewards quality alerts only; acknowledging is audited; delivery to a real local
SMTP server and HTTP endpoint, and a failing target never breaks the action."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
import pandas as pd
import pytest

from lib.admin import alerts, notify, setting_changes
from lib.admin import users as accounts
from lib.core import errors, warehouse
from lib.security import audit, auth, exports, privacy
from tests import factories as f
from tests.alert_sinks import SmtpSink, WebhookSink


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def wh(warehouse_path):
    yield warehouse_path
    alerts.wait_for_deliveries()


def all_alerts() -> list[dict]:
    return warehouse.records("alerts_list", status=None, limit=100, quality_only=False)


def only(rule: str) -> list[dict]:
    return [a for a in all_alerts() if a["rule"] == rule]


def download(user: auth.User, rows: int) -> None:
    exports.deliver(user, exports.Download("customer_search", pd.DataFrame({"n": range(rows)}), "search"))


# ---------------------------------------------------------------- access rules (audit hook)


def test_repeated_failed_logins_for_one_username_raise_one_alert(wh):
    setting_changes.put_system("alert_failed_logins_max", 3)
    setting_changes.put_system("alert_failed_logins_minutes", 15)
    auth.record_login("ghost", False, "10.0.0.1")
    auth.record_login("ghost", False, "10.0.0.2")
    auth.record_login("manager", False, "10.0.0.1")  # another name: counted apart
    assert only("failed_logins") == []
    auth.record_login("ghost", False, "10.0.0.3")
    [alert] = only("failed_logins")
    assert (alert["subject"], alert["category"], alert["occurrences"]) == ("ghost", "security", 1)
    assert alert["detail"] == {"failures": 3, "threshold": 3, "window_minutes": 15}
    auth.record_login("ghost", False, "10.0.0.3")  # a repeat within the window adds to it
    [alert] = only("failed_logins")
    assert alert["occurrences"] == 2 and alert["detail"]["failures"] == 4


def test_failed_logins_through_the_real_login_form_path(wh):
    setting_changes.put_system("alert_failed_logins_max", 2)
    assert auth.authenticate("admin", "wrong password", "10.1.1.1").user is None
    assert only("failed_logins") == []
    assert auth.authenticate("admin", "wrong again", "10.1.1.2").user is None
    assert [a["subject"] for a in only("failed_logins")] == ["admin"]


def test_mass_export_alert_after_an_export_of_n_rows(wh, users):
    setting_changes.put_system("alert_export_rows_per_hour", 1000)
    download(users["admin"], 600)
    download(users["steward"], 900)  # another user's rows are theirs
    download(users["admin"], 400)  # 1,000: not more than the threshold
    assert only("mass_export") == []
    download(users["admin"], 1)
    [alert] = only("mass_export")
    assert alert["subject"] == "admin" and alert["severity"] == "high"
    assert alert["detail"] == {"rows": 1001, "exports": 3, "threshold": 1000, "window_minutes": 60}


def test_mass_export_counts_exports_of_every_kind(wh, users):
    setting_changes.put_system("alert_export_rows_per_hour", 10)
    for detail in ({"rows": 6}, {"pairs": 3, "cluster_rows": 2}):
        action = "audience.export" if "rows" in detail else "dedup.export"
        audit.record(None, users["marketing"], action, "segment", "vip", detail=detail)
    [alert] = only("mass_export")
    assert alert["subject"] == "marketing" and alert["detail"]["rows"] == 11


def test_exports_older_than_an_hour_do_not_count(wh, users):
    setting_changes.put_system("alert_export_rows_per_hour", 100)
    download(users["admin"], 90)
    with warehouse.transaction() as tx:
        tx.run("UPDATE audit_log SET occurred_at = occurred_at - INTERVAL 61 MINUTE WHERE action = 'download'")
    download(users["admin"], 90)
    assert only("mass_export") == []


def test_a_burst_of_id_reveals_raises_an_alert(wh, users):
    setting_changes.put_system("alert_reveals_max", 2)
    setting_changes.put_system("alert_reveals_minutes", 10)
    with warehouse.transaction() as tx:
        f.customer(tx, 1, id_number_enc=privacy.encrypt("11010519491231002X"), id_number_last4="002X")
    for _ in range(2):
        privacy.reveal_id_number(users["admin"], 1, "identity check at the desk")
    assert only("reveal_burst") == []
    privacy.reveal_id_number(users["admin"], 1, "identity check at the desk")
    [alert] = only("reveal_burst")
    assert alert["subject"] == "admin"
    assert alert["detail"] == {"reveals": 3, "threshold": 2, "window_minutes": 10}


WEDNESDAY = datetime(2026, 12, 2)  # a Wednesday
SATURDAY = datetime(2026, 12, 5)


def test_off_hours_access_with_an_injected_clock(wh, users, monkeypatch):
    setting_changes.put_system("off_hours_enabled", True)
    setting_changes.put_system("work_hours_start", 8)
    setting_changes.put_system("work_hours_end", 19)
    monkeypatch.setattr(alerts, "clock", lambda: WEDNESDAY.replace(hour=10))
    auth.record_login("steward", True, "10.0.0.5")
    download(users["steward"], 5)
    assert only("off_hours") == []
    monkeypatch.setattr(alerts, "clock", lambda: WEDNESDAY.replace(hour=19, minute=0))  # end is exclusive
    auth.record_login("steward", True, "10.0.0.5")
    monkeypatch.setattr(alerts, "clock", lambda: WEDNESDAY.replace(hour=3, minute=12))
    download(users["steward"], 5)
    [alert] = only("off_hours")
    assert alert["subject"] == "steward" and alert["occurrences"] == 2
    assert alert["detail"]["action"] == "download" and alert["detail"]["at"] == "2026-12-02T03:12"
    monkeypatch.setattr(alerts, "clock", lambda: SATURDAY.replace(hour=11))
    auth.record_login("marketing", True, "10.0.0.6")
    assert sorted(a["subject"] for a in only("off_hours")) == ["marketing", "steward"]


def test_off_hours_is_quiet_when_disabled_the_default(wh, users, monkeypatch):
    monkeypatch.setattr(alerts, "clock", lambda: WEDNESDAY.replace(hour=3))
    auth.record_login("steward", True, "10.0.0.5")
    download(users["steward"], 5)
    assert all_alerts() == []


def test_off_hours_ignores_actions_that_are_neither_logins_nor_pii_reads(wh, users, monkeypatch):
    setting_changes.put_system("off_hours_enabled", True)
    monkeypatch.setattr(alerts, "clock", lambda: WEDNESDAY.replace(hour=3))
    setting_changes.put(users["admin"], "backup_retention", 5)
    audit.record(None, users["steward"], "flag.ignore", "customer", 1)
    assert all_alerts() == []


def test_an_attempt_by_a_disabled_account_raises_an_alert(wh, users):
    accounts.disable_user(users["admin"], "lead")
    assert all_alerts() == []
    assert auth.authenticate("lead", "lead-demo", "10.0.0.9").user is None
    [alert] = only("dormant_access")
    assert (alert["subject"], alert["severity"]) == ("lead", "high")
    assert alert["detail"] == {"action": "login.failed", "reason": "disabled"}


def test_a_login_after_a_long_idle_period_raises_an_alert(wh):
    setting_changes.put_system("alert_idle_days", 90)
    with warehouse.transaction() as tx:
        tx.run("UPDATE app_users SET created_at = now() - INTERVAL 400 DAY WHERE username IN ('steward', 'marketing')")
        tx.run(
            "INSERT INTO app_sessions (session_id, username, client, created_at, last_seen) VALUES "
            "('s1', 'steward', 'x', now() - INTERVAL 130 DAY, now() - INTERVAL 120 DAY),"
            "('s2', 'marketing', 'x', now() - INTERVAL 31 DAY, now() - INTERVAL 30 DAY)"
        )
    assert auth.authenticate("marketing", "marketing-demo", "10.0.0.7").user is not None
    assert all_alerts() == []  # 30 days idle: under 90
    assert auth.authenticate("steward", "steward-demo", "10.0.0.7").user is not None
    [alert] = only("dormant_access")
    assert alert["subject"] == "steward" and alert["severity"] == "medium"
    assert (alert["detail"]["reason"], alert["detail"]["idle_days"], alert["detail"]["threshold"]) == ("idle", 120, 90)
    assert auth.authenticate("steward", "steward-demo", "10.0.0.7").user is not None  # active again now
    assert len(only("dormant_access")) == 1 and only("dormant_access")[0]["occurrences"] == 1


def test_the_system_user_and_ordinary_actions_raise_nothing(wh, users):
    audit.record(None, auth.SYSTEM, "login", detail={"client": "cron"})
    setting_changes.put(users["admin"], "backup_retention", 4)
    auth.record_login("admin", True)
    assert all_alerts() == []


# ---------------------------------------------------------------- result rules


def quality_run(tx, run_id: int, overall: float, results: list[tuple[str, str, str, int, int]]) -> None:
    tx.run(
        "INSERT INTO quality_runs (run_id, username, customers, overall_score, finished_at) "
        "VALUES (:r, 'system', 100, :o, now())",
        r=run_id,
        o=overall,
    )
    for rule_id, dimension, severity, checked, failed in results:
        tx.run(
            "INSERT INTO quality_results VALUES (:r, :rule, :dim, :sev, 'f', 'test', 'web', :c, :x)",
            r=run_id,
            rule=rule_id,
            dim=dimension,
            sev=severity,
            c=checked,
            x=failed,
        )


def test_a_quality_drop_between_runs_raises_alerts_per_dimension_and_overall(wh):
    setting_changes.put_system("alert_quality_drop_points", 5)
    with warehouse.transaction() as tx:
        # validity 95 -> 80 (-15), completeness 90 -> 88 (-2), overall 0.93 -> 0.85 (-8)
        quality_run(
            tx,
            1,
            0.93,
            [("mobile_valid", "validity", "high", 100, 5), ("name_present", "completeness", "high", 100, 10)],
        )
        quality_run(
            tx,
            2,
            0.85,
            [("mobile_valid", "validity", "high", 100, 20), ("name_present", "completeness", "high", 100, 12)],
        )
    audit.record(None, auth.SYSTEM, "quality.run", "quality_run", 2)  # what quality.run() writes last
    raised = {a["subject"]: a for a in only("quality_drop")}
    assert sorted(raised) == ["overall", "validity"]
    assert raised["validity"]["detail"] == {
        "drop_points": 15.0,
        "threshold": 5.0,
        "before": 95.0,
        "after": 80.0,
        "run_id": 2,
        "previous_run_id": 1,
    }
    assert raised["validity"]["severity"] == "high"  # more than twice the threshold
    assert raised["overall"]["detail"]["drop_points"] == 8.0 and raised["overall"]["severity"] == "medium"
    assert {a["category"] for a in raised.values()} == {"quality"}


def test_a_single_run_or_a_small_drop_is_quiet(wh):
    with warehouse.transaction() as tx:
        quality_run(tx, 1, 0.93, [("mobile_valid", "validity", "high", 100, 5)])
    assert alerts.check_quality() == []
    with warehouse.transaction() as tx:
        quality_run(tx, 2, 0.90, [("mobile_valid", "validity", "high", 100, 9)])  # -4 points
    assert alerts.check_quality() == []


def test_dimension_scores_agree_with_the_quality_scorecard(warehouse_path):
    from lib.stewardship import quality
    from tests import stewards_fixtures as fx

    fx.build()
    run = quality.run(auth.SYSTEM)
    card = quality.scorecard(run.run_id)
    ours = {r["dimension"]: r["score"] for r in warehouse.records("alerts_quality_dimension_scores", run_id=run.run_id)}
    theirs = dict(zip(card.by_dimension["dimension"], card.by_dimension["score"]))
    assert ours == pytest.approx(theirs)


def churn_scores(tx, tiers: dict[str, int]) -> None:
    tx.run("DELETE FROM churn_scores")
    cid = 0
    for tier, count in tiers.items():
        for _ in range(count):
            cid += 1
            tx.run("INSERT INTO churn_scores VALUES (:c, 1, DATE '2026-11-01', 0.5, :t, ['r'], now())", c=cid, t=tier)


def test_a_rise_of_high_churn_risk_between_scorings_raises_an_alert(wh):
    setting_changes.put_system("alert_churn_rise_points", 10)
    with warehouse.transaction() as tx:
        churn_scores(tx, {"high": 2, "medium": 3, "low": 5})
    audit.record(
        None, auth.SYSTEM, "churn.score", "churn_model", 1, detail={"tiers": {"high": 2, "medium": 3, "low": 5}}
    )
    assert all_alerts() == []  # the first scoring has nothing to compare with
    with warehouse.transaction() as tx:
        churn_scores(tx, {"high": 3, "medium": 3, "low": 4})  # 20% -> 30%: +10, not more
    audit.record(
        None, auth.SYSTEM, "churn.score", "churn_model", 1, detail={"tiers": {"high": 3, "medium": 3, "low": 4}}
    )
    assert all_alerts() == []
    with warehouse.transaction() as tx:
        churn_scores(tx, {"high": 6, "medium": 2, "low": 2})  # 30% -> 60%
    audit.record(
        None, auth.SYSTEM, "churn.score", "churn_model", 1, detail={"tiers": {"high": 6, "medium": 2, "low": 2}}
    )
    [alert] = only("churn_rise")
    assert (alert["subject"], alert["category"]) == ("high_risk_share", "marketing")
    assert alert["detail"] == {"rise_points": 30.0, "threshold": 10.0, "before": 30.0, "after": 60.0, "scored": 10}


@dataclass
class Run:
    name: str
    outcome: str
    error: str | None = None
    rows: int | None = None
    run_id: int = 7
    started_at: datetime = datetime(2026, 12, 2, 2, 0)
    finished_at: datetime | None = datetime(2026, 12, 2, 2, 5)


def test_a_failed_job_raises_an_alert_and_a_good_one_does_not(wh):
    assert alerts.on_job_finished(Run("snapshot", "ok", rows=12)) is None
    assert alerts.on_job_finished(Run("quality", "skipped")) is None
    raised = alerts.on_job_finished(Run("snapshot", "failed", error="disk full"))
    assert raised is not None and raised.new
    [alert] = all_alerts()
    assert (alert["rule"], alert["subject"], alert["category"], alert["severity"]) == (
        "job_failed",
        "snapshot",
        "operations",
        "high",
    )
    assert alert["detail"]["error"] == "disk full" and alert["detail"]["run_id"] == "7"


def test_overdue_jobs(wh):
    setting_changes.put_system("alert_job_grace_hours", 2)
    now = datetime(2026, 12, 2, 12, 0)
    raised = alerts.check_overdue(
        {"snapshot": now - timedelta(hours=27), "aggregates": now - timedelta(hours=25), "quality": None},
        {"snapshot": timedelta(hours=24), "aggregates": timedelta(hours=24), "quality": timedelta(hours=24)},
        now=now,
    )
    assert len(raised) == 1
    [alert] = all_alerts()
    assert (alert["rule"], alert["subject"]) == ("job_overdue", "snapshot")
    assert alert["detail"]["late_hours"] == 3.0
    # a job that never succeeded is overdue once the scheduler has been running long enough
    alerts.check_overdue({}, {"quality": timedelta(hours=1)}, now=now, running_since=now - timedelta(hours=4))
    assert sorted(a["subject"] for a in only("job_overdue")) == ["quality", "snapshot"]


def test_one_open_alert_per_rule_and_subject_within_the_window(wh):
    setting_changes.put_system("alert_dedup_minutes", 30)
    t0 = datetime.now()
    first = alerts.raise_alert("job_failed", "snapshot", "high", {"error": "a"}, t0)
    again = alerts.raise_alert("job_failed", "snapshot", "high", {"error": "b"}, t0 + timedelta(minutes=20))
    other = alerts.raise_alert("job_failed", "quality", "high", {"error": "c"}, t0 + timedelta(minutes=21))
    later = alerts.raise_alert("job_failed", "snapshot", "high", {"error": "d"}, t0 + timedelta(minutes=51))
    assert first.new and not again.new and again.alert_id == first.alert_id
    assert other.new and later.new and later.alert_id not in (first.alert_id, other.alert_id)
    row = warehouse.one("alerts_by_id", alert_id=first.alert_id)
    assert row["occurrences"] == 2 and row["detail"] == {"error": "b"}


def test_an_acknowledged_alert_is_not_bumped_a_new_one_opens(wh, users):
    first = alerts.raise_alert("job_failed", "snapshot", "high", {})
    alerts.acknowledge(users["admin"], first.alert_id, "restarted the disk")
    second = alerts.raise_alert("job_failed", "snapshot", "high", {})
    assert second.new and second.alert_id != first.alert_id


# ---------------------------------------------------------------- inbox and acknowledgement


def seed_one_of_each() -> dict[str, int]:
    return {
        "quality": alerts.raise_alert("quality_drop", "validity", "medium", {"drop_points": 6.0}).alert_id,
        "security": alerts.raise_alert("mass_export", "marketing", "high", {"rows": 9000}).alert_id,
        "operations": alerts.raise_alert("job_failed", "snapshot", "high", {"error": "x"}).alert_id,
    }


def test_admins_see_every_alert_stewards_quality_alerts_only(wh, users):
    ids = seed_one_of_each()
    assert sorted(alerts.inbox(users["admin"])["alert_id"]) == sorted(ids.values())
    assert alerts.inbox(users["steward"])["alert_id"].tolist() == [ids["quality"]]
    assert alerts.counts(users["steward"]) == {"open": 1, "high": 0, "acknowledged": 0}
    assert alerts.counts(users["admin"]) == {"open": 3, "high": 2, "acknowledged": 0}
    for role in ("manager", "marketing", "lead"):
        with pytest.raises(auth.PermissionDenied):
            alerts.inbox(users[role])


def test_acknowledge_with_a_note_is_audited(wh, users):
    ids = seed_one_of_each()
    alerts.acknowledge(users["admin"], ids["security"], "  spoke to Li Na: campaign list, approved  ")
    row = warehouse.one("alerts_by_id", alert_id=ids["security"])
    assert (row["status"], row["acknowledged_by"], row["note"]) == (
        "acknowledged",
        "admin",
        "spoke to Li Na: campaign list, approved",
    )
    entry = warehouse.one("SELECT * FROM audit_log WHERE action = 'alert.acknowledge'")
    assert (entry["username"], entry["entity"], entry["entity_id"]) == ("admin", "alert", str(ids["security"]))
    assert entry["after"] == {"status": "acknowledged", "note": "spoke to Li Na: campaign list, approved"}
    assert entry["detail"] == {"rule": "mass_export", "subject": "marketing", "category": "security"}
    assert alerts.inbox(users["admin"], "acknowledged")["alert_id"].tolist() == [ids["security"]]
    with pytest.raises(errors.ConflictError):
        alerts.acknowledge(users["admin"], ids["security"], "twice")


def test_a_note_is_required(wh, users):
    ids = seed_one_of_each()
    with pytest.raises(alerts.AlertError, match="3 to 500"):
        alerts.acknowledge(users["admin"], ids["quality"], "  ")
    assert warehouse.one("alerts_by_id", alert_id=ids["quality"])["status"] == "open"


def test_a_steward_acknowledges_quality_alerts_and_is_refused_the_others(wh, users):
    ids = seed_one_of_each()
    alerts.acknowledge(users["steward"], ids["quality"], "re-import of store 12 fixed")
    for other in ("security", "operations"):
        denied = warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'access.denied'")
        with pytest.raises(auth.PermissionDenied):
            alerts.acknowledge(users["steward"], ids[other], "not mine to close")
        assert warehouse.one("alerts_by_id", alert_id=ids[other])["status"] == "open"
        assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'access.denied'") == denied + 1
    with pytest.raises(auth.PermissionDenied):
        alerts.acknowledge(users["manager"], ids["quality"], "managers cannot")


def test_describe_says_what_was_measured(wh):
    row = {"rule": "mass_export", "detail": {"rows": 12000, "exports": 3, "threshold": 5000, "window_minutes": 60}}
    assert alerts.describe(row) == "12,000 rows in 3 exports within an hour (threshold 5,000)"
    row = {"rule": "dormant_access", "detail": {"action": "login.failed", "reason": "disabled"}}
    assert alerts.describe(row) == "login.failed by a disabled account"


# ---------------------------------------------------------------- delivery (real local endpoints)


def configure(**values) -> None:
    for key, value in values.items():
        setting_changes.put_system(key, value)


def test_the_smtp_sink_receives_the_alert(wh):
    with SmtpSink() as sink:
        configure(
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_from="c360@example.com",
            smtp_to="sec@example.com, ops@example.com",
        )
        raised = alerts.on_job_finished(Run("snapshot", "failed", error="disk full"))
        alerts.wait_for_deliveries()
        assert sink.received.wait(5)
    [mail] = sink.messages
    assert mail.sender == "c360@example.com" and mail.recipients == ["sec@example.com", "ops@example.com"]
    assert mail.message["Subject"] == "[Customer 360] high alert: job failed — snapshot"
    assert "error: disk full" in mail.message.get_content()
    assert warehouse.one("alerts_by_id", alert_id=raised.alert_id)["delivery"]["smtp"] == "sent"


def test_the_webhook_endpoint_receives_json(wh, users):
    setting_changes.put_system("alert_export_rows_per_hour", 10)
    with WebhookSink() as hook:
        configure(webhook_url=hook.url)
        download(users["marketing"], 11)
        alerts.wait_for_deliveries()
    [body] = hook.bodies
    assert hook.headers[0]["Content-Type"] == "application/json; charset=utf-8"
    assert {k: body[k] for k in ("rule", "category", "severity", "subject")} == {
        "rule": "mass_export",
        "category": "security",
        "severity": "high",
        "subject": "marketing",
    }
    assert body["detail"] == {"rows": 11, "exports": 1, "threshold": 10, "window_minutes": 60}
    [alert] = all_alerts()
    assert body["alert_id"] == alert["alert_id"] and alert["delivery"]["webhook"] == "sent"


def test_only_new_alerts_are_delivered(wh):
    with WebhookSink() as hook:
        configure(webhook_url=hook.url)
        alerts.raise_alert("job_failed", "snapshot", "high", {})
        alerts.raise_alert("job_failed", "snapshot", "high", {})
        alerts.wait_for_deliveries()
    assert len(hook.bodies) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_delivery_failure_is_recorded_and_never_breaks_the_action(wh, users):
    port = closed_port()
    configure(
        webhook_url=f"http://127.0.0.1:{port}/nothing",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="c360@example.com",
        smtp_to="sec@example.com",
        alert_failed_logins_max=2,
    )
    started = time.perf_counter()
    for _ in range(2):
        assert auth.authenticate("ghost", "x", "10.0.0.1").user is None  # the login path completes
    assert time.perf_counter() - started < 5  # the action does not wait for the delivery
    alerts.wait_for_deliveries()
    [alert] = all_alerts()
    assert alert["delivery"]["smtp"].startswith("failed: ConnectionRefusedError")
    assert alert["delivery"]["webhook"].startswith("failed: URLError")


def test_a_webhook_that_answers_an_error_is_recorded(wh):
    with WebhookSink(status=500) as hook:
        configure(webhook_url=hook.url)
        raised = alerts.raise_alert("job_failed", "snapshot", "high", {})
        alerts.wait_for_deliveries()
    assert warehouse.one("alerts_by_id", alert_id=raised.alert_id)["delivery"]["webhook"].startswith(
        "failed: HTTPError"
    )


def test_nothing_is_sent_without_targets(wh):
    assert not notify.targets().any()
    raised = alerts.raise_alert("job_failed", "snapshot", "high", {})
    alerts.wait_for_deliveries()
    assert warehouse.one("alerts_by_id", alert_id=raised.alert_id)["delivery"] is None


def test_a_broken_rule_never_fails_the_audited_action(wh, users, monkeypatch):
    def broken(entry):
        raise RuntimeError("rule bug")

    monkeypatch.setitem(alerts.ACTION_RULES, "download", (broken,))
    download(users["admin"], 3)  # no exception
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'download'") == 1


def test_a_rolled_back_action_is_not_evaluated(wh, users):
    setting_changes.put_system("alert_failed_logins_max", 2)
    with pytest.raises(RuntimeError):
        with warehouse.transaction() as tx:
            for _ in range(3):
                audit.record(tx, "ghost", "login.failed", detail={"client": "x"})
            raise RuntimeError("rolled back")
    assert all_alerts() == []
