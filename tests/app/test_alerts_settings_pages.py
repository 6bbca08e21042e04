"""AppTest of the alerts inbox and the settings page (admin; stewards see quality alerts)."""

from __future__ import annotations

import bcrypt
import pytest

from lib.admin import alerts
from lib.core import settings, warehouse
from lib.security import auth
from lib.stewardship import quality
from tests.app.helpers import as_user, open_page
from tests.stewards_fixtures import _stw_root, stw_wh  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


def on(username: str, path: str):
    at = as_user(username)
    open_page(at, path)
    assert not at.exception, at.exception
    return at


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def table_text(at) -> str:
    return "\n".join(df.value.to_csv(index=False) for df in at.dataframe)


@pytest.fixture
def raised(warehouse_path):
    ids = {
        "quality": alerts.raise_alert(
            "quality_drop",
            "validity",
            "medium",
            {"drop_points": 6.5, "threshold": 5.0, "before": 95.0, "after": 88.5, "run_id": 2, "previous_run_id": 1},
        ).alert_id,
        "security": alerts.raise_alert(
            "mass_export", "marketing", "high", {"rows": 12000, "exports": 2, "threshold": 5000, "window_minutes": 60}
        ).alert_id,
    }
    yield ids
    alerts.wait_for_deliveries()


# ---------------------------------------------------------------- alerts page


def test_admin_sees_every_alert_with_what_was_measured(raised):
    at = on("admin", "pages/35_alerts.py")
    text = table_text(at)
    assert "12,000 rows in 2 exports within an hour (threshold 5,000)" in text
    assert "95.0 → 88.5 points (−6.5, threshold 5)" in text
    assert "Mass export" in text and "Quality score dropped" in text and "mass_export" not in text
    assert "None" not in text and "nan" not in text
    assert [m.value for m in at.metric][:2] == ["2", "1"]  # open, open and high
    assert "Export rows per hour = 5,000" in table_text(at)  # the rules table


def test_a_steward_sees_quality_alerts_only(raised):
    at = on("steward", "pages/35_alerts.py")
    text = table_text(at)
    assert "Quality score dropped" in text and "validity" in text
    assert "Mass export" not in text and "marketing" not in text
    assert at.selectbox[0].options == [f"#{raised['quality']} · Quality score dropped · validity"]


def test_admin_acknowledges_an_alert_with_a_note(raised):
    at = on("admin", "pages/35_alerts.py")
    at.selectbox[0].select(raised["security"])
    at.text_area[0].input("Called Li Na: approved campaign list")
    button(at, "Acknowledge").click()
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Alert #{raised['security']} acknowledged."]
    row = warehouse.one("alerts_by_id", alert_id=raised["security"])
    assert (row["status"], row["acknowledged_by"], row["note"]) == (
        "acknowledged",
        "admin",
        "Called Li Na: approved campaign list",
    )
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert.acknowledge'") == 1


def test_an_acknowledgement_without_a_note_shows_why(raised):
    at = on("admin", "pages/35_alerts.py")
    button(at, "Acknowledge").click()
    at.run()
    assert [e.value for e in at.error] == ["Write a note of 3 to 500 characters: what was checked, what was done."]
    assert warehouse.scalar("SELECT count(*) FROM alerts WHERE status = 'open'") == 2


def test_the_alerts_page_in_chinese(raised):
    at = as_user("admin")
    at.session_state["lang"] = "zh"
    open_page(at, "pages/35_alerts.py")
    assert not at.exception, at.exception
    text = table_text(at)
    assert "大批量导出" in text and "一小时内 2 次导出共 12,000 行（阈值 5,000）" in text


# ---------------------------------------------------------------- settings page


def save(at, key: str, value: str):
    at.selectbox(key="settings_key").select(key)
    at.run()
    at.text_input(key=f"settings_value_{key}").input(value)
    button(at, "Save").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_settings_page_shows_meaning_default_and_unit(warehouse_path):
    at = on("admin", "pages/36_settings.py")
    text = table_text(at)
    assert "A record is stale when not updated or verified for this many months" in text
    assert "Stale after" in text and "months" in text and "1 – 240" in text
    assert "Alert webhook" in text and "(not set)" in text
    assert "None" not in text and "nan" not in text
    assert [s.value for s in at.subheader][:6] == [
        "Metrics",
        "Data quality",
        "Backups",
        "Alert thresholds",
        "Working hours (off-hours alerts)",
        "Alert delivery (SMTP, webhook)",
    ]


def stale_failures() -> int:
    run = quality.run(auth.SYSTEM)
    return int(quality.results(run.run_id).query("rule_id == 'not_stale'")["failed"].sum())


def test_a_stale_threshold_change_takes_effect_at_once(stw_wh):
    assert stale_failures() == 2  # records 20 and 23 with the default 24 months
    at = on("admin", "pages/36_settings.py")
    save(at, "stale_after_months", "30")
    assert [s.value for s in at.success] == ["Stale after is now 30."]
    assert settings.get("stale_after_months") == 30
    assert stale_failures() == 1  # 23 (updated 2024-06-01) is no longer stale: no restart
    history = at.dataframe[-1].value
    assert history.iloc[0].tolist()[1:] == ["admin", "Stale after", "(default)", "30"]
    review = on("steward", "pages/12_review_queue.py")
    assert any("30 months" in c.value for c in review.caption)


def test_an_invalid_value_is_refused_with_its_reason_and_nothing_changes(warehouse_path):
    at = on("admin", "pages/36_settings.py")
    save(at, "stale_after_months", "0")
    assert [e.value for e in at.error] == ["Stale after: must be between 1 and 240. Nothing was saved."]
    assert settings.get("stale_after_months") == 24
    assert warehouse.scalar("SELECT count(*) FROM settings_history") == 0
    assert [i.value for i in at.info] == ["No setting has been changed yet."]


@pytest.mark.parametrize("username", ["manager", "marketing", "steward", "lead"])
def test_only_admins_open_the_settings_page(warehouse_path, username):
    at = as_user(username)
    open_page(at, "pages/36_settings.py")
    assert any("do not allow" in e.value for e in at.error)
    assert not at.text_input and not at.dataframe


@pytest.mark.parametrize("username", ["manager", "marketing", "lead"])
def test_managers_and_marketing_do_not_open_the_alerts_page(raised, username):
    at = as_user(username)
    open_page(at, "pages/35_alerts.py")
    assert any("do not allow" in e.value for e in at.error)
    assert not at.dataframe
