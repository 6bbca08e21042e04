"""Changing run-time settings: admin only (`change_settings`), validated, versioned and audited.

Reading them is lib/core/settings.py (every area reads; only admin writes). A change is checked
against the setting's declared type and range (`settings.validate`: a refusal names the setting
and the rule, and writes nothing), then written with one `settings_history` row (who, when,
before, after) and one `setting.change` audit row in the same transaction; the settings cache
is forgotten, so this process uses the new value on its next read (others within
`settings.CACHE_SECONDS`).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from lib.core import errors, i18n, settings, warehouse
from lib.security import audit, auth


def put(user: auth.User, key: str, value: Any) -> Any:
    """Validate and store one setting; returns the value stored."""
    auth.require(user, "change_settings")
    return _put(user, key, value)


def _checked(key: str, value: Any) -> Any:
    clean = settings.validate(key, value)
    if key in ("work_hours_start", "work_hours_end"):
        start = clean if key == "work_hours_start" else int(settings.get("work_hours_start"))
        end = clean if key == "work_hours_end" else int(settings.get("work_hours_end"))
        if start >= end:
            raise errors.ValidationError(
                i18n.t(
                    "settings.invalid",
                    setting=i18n.t(f"settings.name.{key}"),
                    reason=i18n.t("settings.why.hours", start=start, end=end),
                )
            )
    return clean


@warehouse.retrying
def _put(user: auth.User, key: str, value: Any) -> Any:
    if key not in settings.DEFAULTS:
        raise KeyError(f"Unknown setting {key!r}")
    clean = _checked(key, value)
    with warehouse.transaction() as tx:
        row = tx.one("setting_get", key=key)
        before = None if row is None else row["value"]
        tx.run("setting_put", key=key, value=json.dumps(clean), updated_by=user.username)
        tx.run(
            "settings_history_insert",
            key=key,
            before=None if row is None else json.dumps(before),
            after=json.dumps(clean),
            changed_by=user.username,
        )
        audit.record(tx, user, "setting.change", "setting", key, before=before, after=clean)
    settings.forget()
    return clean


def put_system(key: str, value: Any) -> Any:
    """For jobs run by the operator (demo build, CLI): audited as the system user."""
    return _put(auth.SYSTEM, key, value)


def overview(user: auth.User) -> pd.DataFrame:
    """Every run-time setting with its group, meaning, value in force, default, unit and limits,
    and who changed it last (admin: the settings page)."""
    auth.require(user, "change_settings")
    stored = {r["key"]: r for r in warehouse.records("settings_stored")}
    rows = []
    for key, default in settings.DEFAULTS.items():
        spec = settings.SPECS[key]
        row = stored.get(key)
        rows.append(
            {
                "key": key,
                "group": spec.group,
                "kind": spec.kind,
                "value": settings.get(key),
                "default": default,
                "unit": spec.unit,
                "minimum": spec.minimum,
                "maximum": spec.maximum,
                "changed": row is not None,
                "updated_by": None if row is None else row["updated_by"],
                "updated_at": None if row is None else row["updated_at"],
            }
        )
    return pd.DataFrame(rows)


def history(user: auth.User, key: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The settings' change history, newest first (who, when, before, after)."""
    auth.require(user, "change_settings")
    rows = warehouse.records("settings_history_recent", key=key, limit=int(limit))
    columns = ["change_id", "changed_at", "changed_by", "key", "before", "after"]
    # values keep their own type (30, true, "2026-11-01", None = the default), not a float column
    return pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})
