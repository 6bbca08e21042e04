"""Changing run-time settings: admin only (`change_settings`), audited with before and after.

Reading them is lib/core/settings.py (every area reads; only admin writes).
"""

from __future__ import annotations

import json
from typing import Any

from lib.core import settings, warehouse
from lib.security import audit, auth


def put(user: auth.User, key: str, value: Any) -> None:
    auth.require(user, "change_settings")
    _put(user, key, value)


@warehouse.retrying
def _put(user: auth.User, key: str, value: Any) -> None:
    if key not in settings.DEFAULTS:
        raise KeyError(f"Unknown setting {key!r}")
    with warehouse.transaction() as tx:
        before = tx.one("setting_get", key=key)
        tx.run("setting_put", key=key, value=json.dumps(value), updated_by=user.username)
        audit.record(
            tx, user, "setting.change", "setting", key, before=None if before is None else before["value"], after=value
        )
    settings.forget()


def put_system(key: str, value: Any) -> None:
    """For jobs run by the operator (demo build, CLI): audited as the system user."""
    _put(auth.SYSTEM, key, value)
