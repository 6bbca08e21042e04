"""Append-only audit log.

This module only ever INSERTs into audit_log: there is deliberately no update or delete
function anywhere in lib/ (a test greps for one). Writes record inside the caller's
transaction so that a change and its audit entry commit or roll back together.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lib.core import warehouse


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=_default, ensure_ascii=False, sort_keys=True)


def record(
    tx: warehouse.Tx | None,
    user: Any,
    action: str,
    entity: str | None = None,
    entity_id: Any = None,
    *,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
) -> None:
    """Append one entry. `user` is an auth.User or a plain username (system jobs, failed logins).

    With tx=None the entry is written in its own transaction (logins, reveals, exports).
    """
    username = getattr(user, "username", None) or str(user)
    roles = ",".join(sorted(getattr(user, "roles", ()) or ()))
    params = dict(
        username=username,
        roles=roles,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=to_json(before),
        after=to_json(after),
        detail=to_json(detail),
    )
    if tx is None:
        with warehouse.transaction(bookkeeping=True) as own:  # the audit row alone
            own.run("audit_insert", **params)
    else:
        tx.run("audit_insert", **params)
