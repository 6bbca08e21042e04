"""Run-time settings that admins change (stored in app_settings, audited), with defaults.

Each setting is declared once in DEFAULTS so that pages, jobs and docs agree on its meaning.
Every area reads them here; changing one (a permission check and an audit row) is an admin
action: lib/admin/setting_changes.py.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from lib.core import warehouse

DEFAULTS: dict[str, Any] = {
    # Reference date for "now" in metrics. None = today. The demo warehouse pins its build date
    # so that its numbers stay meaningful however long after the build it is opened.
    "data_as_of": None,
    "active_window_days": 90,  # active = any event within this many days
    "churn_window_days": 365,  # churned = had orders, none within this many days
    "stale_after_months": 24,  # stale = not updated or verified for this many months
    "backup_retention": 14,  # snapshots kept
    # Campaigns (issue #18): share of members kept out as the control group; whether a contact
    # export needs a second person's approval; hours an approved contact list stays available.
    "campaign_holdout_share": 0.10,
    "contact_export_approval": True,
    "contact_export_hours": 24,
}


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
