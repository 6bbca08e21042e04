"""Append-only audit log.

This module only ever INSERTs into audit_log: there is deliberately no update or delete
function anywhere in lib/ (a test greps for one). Writes record inside the caller's
transaction so that a change and its audit entry commit or roll back together.

Subscribers (`@audit.after_record`, modules declared in SUBSCRIBERS and imported by name the
first time an entry is written, as core.hooks does for loads) see every entry once it has
committed: lib/admin/alerts.py evaluates its access rules there. A subscriber that fails is
logged and never undoes or fails the audited action.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lib.core import warehouse

log = logging.getLogger(__name__)

# Modules that subscribe to committed audit entries (their import registers them).
SUBSCRIBERS: tuple[str, ...] = ("lib.admin.alerts",)


@dataclass(frozen=True)
class Entry:
    """A committed audit entry as its subscribers see it (detail as given, not as JSON)."""

    username: str
    roles: frozenset[str]
    action: str
    entity: str | None = None
    entity_id: str | None = None
    detail: Any = None
    at: datetime = field(default_factory=datetime.now)


Subscriber = Callable[[Entry], None]
_subscribers: list[Subscriber] = []
_subscribed = False
_publishing = threading.local()  # a subscriber's own audited writes are not published again


def after_record(subscriber: Subscriber) -> Subscriber:
    """Decorator: call `subscriber(entry)` after every audit entry has committed."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def _publish(entry: Entry) -> None:
    global _subscribed
    if getattr(_publishing, "active", False):
        return
    _publishing.active = True
    try:
        if not _subscribed:
            _subscribed = True
            for name in SUBSCRIBERS:
                try:
                    importlib.import_module(name)
                except Exception as exc:  # noqa: BLE001 - as a failing subscriber
                    log.warning("audit subscriber module %s failed to import: %s", name, exc)
        for subscriber in list(_subscribers):
            try:
                subscriber(entry)
            except Exception as exc:  # noqa: BLE001 - the audited action is committed: report, never fail it
                log.warning("audit subscriber %s failed on %s: %s", subscriber.__qualname__, entry.action, exc)
    finally:
        _publishing.active = False


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
    entry = Entry(
        username,
        frozenset(getattr(user, "roles", ()) or ()),
        action,
        entity,
        params["entity_id"],
        detail,
    )
    if tx is None:
        with warehouse.transaction(bookkeeping=True) as own:  # the audit row alone
            own.run("audit_insert", **params)
            own.after_commit(lambda: _publish(entry))
    else:
        tx.run("audit_insert", **params)
        tx.after_commit(lambda: _publish(entry))
