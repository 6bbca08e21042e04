"""Run-time settings that admins change (stored in app_settings, audited), with defaults.

Each setting is declared once in DEFAULTS so that pages, jobs and docs agree on its meaning.
Every area reads them here; changing one (a permission check and an audit row) is an admin
action: lib/admin/setting_changes.py.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from lib.core import errors, i18n, warehouse

DEFAULTS: dict[str, Any] = {
    # Reference date for "now" in metrics. None = today. The demo warehouse pins its build date
    # so that its numbers stay meaningful however long after the build it is opened.
    "data_as_of": None,
    "active_window_days": 90,  # active = any event within this many days
    "churn_window_days": 365,  # churned = had orders, none within this many days
    "stale_after_months": 24,  # stale = not updated or verified for this many months
    "backup_retention": 14,  # snapshots kept
    # alerts (lib/admin/alerts.py): thresholds of the rules
    "alert_quality_drop_points": 5.0,  # quality score or a dimension falls by more than this between runs
    "alert_churn_rise_points": 5.0,  # share of high churn risk rises by more than this between scorings
    "alert_export_rows_per_hour": 5000,  # rows one user exports or downloads within an hour
    "alert_reveals_max": 5,  # more ID reveals than this by one user ...
    "alert_reveals_minutes": 15,  # ... within this many minutes
    "alert_failed_logins_max": 10,  # this many failed logins for one username ...
    "alert_failed_logins_minutes": 15,  # ... within this many minutes
    "alert_idle_days": 90,  # a login after this many days without activity
    "alert_job_grace_hours": 2,  # a job is overdue this long after its next run was due
    "alert_dedup_minutes": 60,  # one open alert per rule and subject within this window
    "off_hours_enabled": False,  # alert on logins and personal-data reads outside working hours
    "work_hours_start": 7,  # working hours start (hour of the day, server time)
    "work_hours_end": 20,  # ... and end (exclusive)
    "off_hours_weekends": True,  # Saturdays and Sundays count as off-hours
    # alert delivery (lib/admin/notify.py); the SMTP password comes from C360_SMTP_PASSWORD
    "smtp_host": "",
    "smtp_port": 25,
    "smtp_starttls": False,
    "smtp_username": "",
    "smtp_from": "",
    "smtp_to": "",  # comma-separated addresses
    "webhook_url": "",
    # Campaigns (issue #18): share of members kept out as the control group; whether a contact
    # export needs a second person's approval; hours an approved contact list stays available.
    "campaign_holdout_share": 0.10,
    "contact_export_approval": True,
    "contact_export_hours": 24,
}


@dataclass(frozen=True)
class Spec:
    """What a setting means and which values it takes: the settings page shows and checks it.

    `kind`: int, float, bool, date (ISO, or empty for today), text, emails (comma-separated),
    email, url (http/https), host. Its meaning is the i18n text `settings.meaning.<key>`, its
    unit `settings.unit.<unit>`."""

    kind: str
    group: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False  # an empty value is allowed (None for a date, "" for text)


SPECS: dict[str, Spec] = {
    "data_as_of": Spec("date", "metrics", optional=True),
    "active_window_days": Spec("int", "metrics", "days", 1, 3650),
    "churn_window_days": Spec("int", "metrics", "days", 30, 3650),
    "stale_after_months": Spec("int", "quality", "months", 1, 240),
    "backup_retention": Spec("int", "backups", "snapshots", 1, 365),
    "alert_quality_drop_points": Spec("float", "alerts", "points", 0.1, 100),
    "alert_churn_rise_points": Spec("float", "alerts", "points", 0.1, 100),
    "alert_export_rows_per_hour": Spec("int", "alerts", "rows", 1, 100_000_000),
    "alert_reveals_max": Spec("int", "alerts", "reveals", 1, 10_000),
    "alert_reveals_minutes": Spec("int", "alerts", "minutes", 1, 1440),
    "alert_failed_logins_max": Spec("int", "alerts", "attempts", 2, 10_000),
    "alert_failed_logins_minutes": Spec("int", "alerts", "minutes", 1, 1440),
    "alert_idle_days": Spec("int", "alerts", "days", 1, 3650),
    "alert_job_grace_hours": Spec("int", "alerts", "hours", 0, 720),
    "alert_dedup_minutes": Spec("int", "alerts", "minutes", 1, 10_080),
    "off_hours_enabled": Spec("bool", "off_hours"),
    "work_hours_start": Spec("int", "off_hours", "hour", 0, 23),
    "work_hours_end": Spec("int", "off_hours", "hour", 1, 24),
    "off_hours_weekends": Spec("bool", "off_hours"),
    "smtp_host": Spec("host", "delivery", optional=True),
    "smtp_port": Spec("int", "delivery", "port", 1, 65535),
    "smtp_starttls": Spec("bool", "delivery"),
    "smtp_username": Spec("text", "delivery", optional=True),
    "smtp_from": Spec("email", "delivery", optional=True),
    "smtp_to": Spec("emails", "delivery", optional=True),
    "webhook_url": Spec("url", "delivery", optional=True),
    "campaign_holdout_share": Spec("float", "campaigns", "share", 0.01, 0.5),
    "contact_export_approval": Spec("bool", "campaigns"),
    "contact_export_hours": Spec("int", "campaigns", "hours", 1, 720),
}
GROUPS = ("metrics", "quality", "backups", "alerts", "off_hours", "delivery", "campaigns")

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def _refuse(key: str, reason: str, **params: Any) -> errors.ValidationError:
    return errors.ValidationError(
        i18n.t(
            "settings.invalid",
            setting=i18n.t(f"settings.name.{key}"),
            reason=i18n.t(f"settings.why.{reason}", **params),
        )
    )


def validate(key: str, raw: Any) -> Any:
    """The value to store for `key`, from what a form or a script gave; raises ValidationError
    with a message that names the setting and the rule it breaks (nothing is written then)."""
    if key not in SPECS:
        raise errors.ValidationError(i18n.t("settings.unknown", setting=key))
    spec = SPECS[key]
    text = raw.strip() if isinstance(raw, str) else raw
    if text is None or text == "":
        if spec.optional:
            return None if spec.kind == "date" else ""
        raise _refuse(key, "required")
    if spec.kind == "bool":
        if isinstance(text, bool):
            return text
        if str(text).lower() in ("true", "1", "yes", "on", "是"):
            return True
        if str(text).lower() in ("false", "0", "no", "off", "否"):
            return False
        raise _refuse(key, "bool")
    if spec.kind in ("int", "float"):
        try:
            if isinstance(text, bool):
                raise ValueError
            number = float(text)
            whole = number == int(number)
        except (TypeError, ValueError, OverflowError):
            raise _refuse(key, "number") from None
        if spec.kind == "int" and not whole:
            raise _refuse(key, "whole")
        value: Any = int(number) if spec.kind == "int" else round(number, 4)
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            raise _refuse(key, "range", minimum=_plain(spec.minimum), maximum=_plain(spec.maximum))
        return value
    text = str(text)
    if spec.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise _refuse(key, "date") from None
    if len(text) > 500:
        raise _refuse(key, "long")
    if spec.kind == "host" and not _HOST.match(text):
        raise _refuse(key, "host")
    if spec.kind == "email" and not _EMAIL.match(text):
        raise _refuse(key, "email", value=text)
    if spec.kind == "emails":
        addresses = [a.strip() for a in text.split(",") if a.strip()]
        bad = next((a for a in addresses if not _EMAIL.match(a)), None)
        if bad is not None or not addresses:
            raise _refuse(key, "email", value=bad or text)
        return ", ".join(addresses)
    if spec.kind == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _refuse(key, "url")
    return text


def _plain(number: float | None) -> str:
    return "–" if number is None else f"{number:,.0f}" if number == int(number) else f"{number:,}"


# Pages read a few settings on every run (as_of above all); they change rarely. A change made
# in this process is seen at once (setting_changes.put() forgets the cache), one made by another process
# (a second app replica, a CLI job) within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, dict[str, Any]]] = {}  # warehouse location -> (read at, values)


def _stored() -> dict[str, Any]:
    """Every stored setting of the current warehouse (JSON values, parsed)."""
    where = warehouse.current_location().url
    hit = _cache.get(where)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    values = {r["key"]: r["value"] for r in warehouse.records("setting_all")}
    _cache[where] = (time.monotonic(), values)
    return values


def forget() -> None:
    """Drop cached settings (after a change or a restore)."""
    _cache.clear()


def get(key: str) -> Any:
    if key not in DEFAULTS:
        raise KeyError(f"Unknown setting {key!r}")
    return _stored().get(key, DEFAULTS[key])


def get_many(*keys: str) -> dict[str, Any]:
    unknown = [k for k in keys if k not in DEFAULTS]
    if unknown:
        raise KeyError(f"Unknown setting {unknown[0]!r}")
    stored = _stored()
    return {k: stored.get(k, DEFAULTS[k]) for k in keys}


def as_of(data_as_of: str | None = None) -> date:
    """The date metrics treat as today (from the setting, or from its value when given)."""
    value = data_as_of if data_as_of is not None else get("data_as_of")
    return date.fromisoformat(value) if value else date.today()
