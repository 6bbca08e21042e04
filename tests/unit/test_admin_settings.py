"""Run-time settings: every one is declared with its meaning, unit and limits; a change is
validated (a refusal names the setting and rule, and writes nothing), versioned, audited, and
used at once."""

from __future__ import annotations

import pytest

from lib.admin import setting_changes
from lib.core import errors, i18n, settings, warehouse
from lib.security import auth


def test_every_setting_has_a_spec_a_name_a_meaning_and_a_unit_in_both_languages():
    assert set(settings.SPECS) == set(settings.DEFAULTS)
    for key, spec in settings.SPECS.items():
        assert spec.group in settings.GROUPS, key
        for text_key in (f"settings.name.{key}", f"settings.meaning.{key}") + (
            (f"settings.unit.{spec.unit}",) if spec.unit else ()
        ):
            assert i18n.has(text_key), text_key
            assert i18n.t(text_key, "zh") != i18n.t(text_key, "en"), text_key
        # the default itself is a valid value
        default = settings.DEFAULTS[key]
        assert settings.validate(key, default) == default, key


def test_the_settings_the_issue_names_are_there():
    assert {
        "stale_after_months",
        "churn_window_days",
        "active_window_days",
        "backup_retention",
        "alert_quality_drop_points",
        "alert_export_rows_per_hour",
        "work_hours_start",
        "smtp_host",
        "webhook_url",
    } <= set(settings.SPECS)


@pytest.mark.parametrize(
    "key, raw, message",
    [
        ("stale_after_months", "abc", "Stale after: enter a number. Nothing was saved."),
        ("stale_after_months", "2.5", "Stale after: enter a whole number. Nothing was saved."),
        ("stale_after_months", "0", "Stale after: must be between 1 and 240. Nothing was saved."),
        ("stale_after_months", "", "Stale after: a value is required. Nothing was saved."),
        ("alert_quality_drop_points", "101", "Quality drop: must be between 0.1 and 100. Nothing was saved."),
        ("off_hours_enabled", "maybe", "Off-hours alerts: answer yes or no. Nothing was saved."),
        (
            "data_as_of",
            "2026-13-01",
            "Data as of: enter a date as YYYY-MM-DD, or leave it empty for today. Nothing was saved.",
        ),
        (
            "smtp_to",
            "ops@example.com, nobody",
            "Alert recipients: “nobody” is not an e-mail address. Nothing was saved.",
        ),
        (
            "webhook_url",
            "ftp://example.com/x",
            "Alert webhook: enter an http:// or https:// address. Nothing was saved.",
        ),
        (
            "smtp_host",
            "mail server",
            "SMTP server: enter a host name or IP address (e.g. smtp.example.com). Nothing was saved.",
        ),
    ],
)
def test_an_invalid_value_is_refused_with_a_specific_message_and_nothing_is_written(
    warehouse_path, users, key, raw, message
):
    audit_rows = warehouse.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(errors.ValidationError) as refused:
        setting_changes.put(users["admin"], key, raw)
    assert str(refused.value) == message
    assert warehouse.scalar("SELECT count(*) FROM app_settings WHERE key = :k", k=key) == 0
    assert warehouse.scalar("SELECT count(*) FROM settings_history") == 0
    assert warehouse.scalar("SELECT count(*) FROM audit_log") == audit_rows
    assert settings.get(key) == settings.DEFAULTS[key]


def test_refusals_are_worded_in_chinese_too(warehouse_path, users):
    token = i18n._language.set("zh")
    try:
        with pytest.raises(errors.ValidationError) as refused:
            setting_changes.put(users["admin"], "stale_after_months", "0")
    finally:
        i18n._language.reset(token)
    assert str(refused.value) == "过期阈值：必须介于 1 与 240 之间。未保存任何更改。"


def test_working_hours_must_start_before_they_end(warehouse_path, users):
    setting_changes.put(users["admin"], "work_hours_end", "18")
    with pytest.raises(errors.ValidationError, match=r"must start before they end \(start 18, end 18\)"):
        setting_changes.put(users["admin"], "work_hours_start", "18")
    assert settings.get("work_hours_start") == 7


@pytest.mark.parametrize(
    "key, raw, stored",
    [
        ("stale_after_months", " 30 ", 30),
        ("alert_quality_drop_points", "2.5", 2.5),
        ("off_hours_enabled", "yes", True),
        ("off_hours_weekends", "否", False),
        ("data_as_of", "2026-11-01", "2026-11-01"),
        ("data_as_of", "", None),
        ("smtp_to", "a@example.com,b@example.com", "a@example.com, b@example.com"),
        ("webhook_url", "https://hooks.example.com/c360", "https://hooks.example.com/c360"),
    ],
)
def test_valid_values_are_stored_as_their_type(warehouse_path, users, key, raw, stored):
    assert setting_changes.put(users["admin"], key, raw) == stored
    assert settings.get(key) == stored


def test_a_change_is_versioned_audited_and_used_at_once(warehouse_path, users):
    assert settings.get("stale_after_months") == 24  # read (and cached) before the change
    setting_changes.put(users["admin"], "stale_after_months", "30")
    assert settings.get("stale_after_months") == 30  # no restart, no cache wait
    setting_changes.put(users["admin"], "stale_after_months", 12)
    history = setting_changes.history(users["admin"])
    assert history[["key", "changed_by"]].values.tolist() == [
        ["stale_after_months", "admin"],
        ["stale_after_months", "admin"],
    ]
    assert history["before"].tolist() == [30, None]  # newest first; None = the default was in force
    assert history["after"].tolist() == [12, 30]
    entries = warehouse.records(
        "SELECT before, after FROM audit_log WHERE action = 'setting.change' AND entity_id = 'stale_after_months' "
        "ORDER BY audit_id"
    )
    assert [(e["before"], e["after"]) for e in entries] == [(None, 30), (30, 12)]


def test_the_overview_lists_every_setting_with_value_default_and_who_changed_it(warehouse_path, users):
    setting_changes.put(users["admin"], "churn_window_days", "180")
    frame = setting_changes.overview(users["admin"]).set_index("key")
    assert list(frame.index) == list(settings.DEFAULTS)
    row = frame.loc["churn_window_days"]
    assert (row["value"], row["default"], row["unit"], row["minimum"], row["maximum"]) == (180, 365, "days", 30, 3650)
    assert (row["changed"], row["updated_by"]) == (True, "admin")
    assert frame.loc["stale_after_months", "changed"] == False  # noqa: E712 - a numpy bool


@pytest.mark.parametrize("role", ["manager", "marketing", "steward", "lead"])
def test_only_admins_change_or_read_the_settings(warehouse_path, users, role):
    for call in (
        lambda: setting_changes.put(users[role], "stale_after_months", 6),
        lambda: setting_changes.overview(users[role]),
        lambda: setting_changes.history(users[role]),
    ):
        with pytest.raises(auth.PermissionDenied):
            call()
    assert settings.get("stale_after_months") == 24
