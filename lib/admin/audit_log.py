"""Reading the audit log: filtered, paginated in SQL, exportable (admin only, `read_audit`).

Writing stays in lib/security/audit.py (append-only). Exports are themselves audited with their row
count, so the log shows who took a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd

from lib.security import audit, auth, exports, privacy
from lib.core import warehouse

PAGE_SIZE = 50
EXPORT_LIMIT = 200_000  # rows per export file; narrow the filters for more


@dataclass(frozen=True)
class AuditFilter:
    username: str | None = None
    action: str | None = None
    entity: str | None = None
    record: str | None = None  # entity id, e.g. a customer id or a username
    start: date | None = None  # inclusive
    end: date | None = None  # inclusive (whole day)

    def params(self) -> dict:
        def clean(value: str | None) -> str | None:
            value = (value or "").strip()
            return value[:200] or None

        return {
            "username": clean(self.username),
            "action": clean(self.action),
            "entity": clean(self.entity),
            "entity_id": clean(self.record),
            "start": datetime.combine(self.start, time.min) if self.start else None,
            "end": datetime.combine(self.end + timedelta(days=1), time.min) if self.end else None,
        }


def choices(user: auth.User) -> dict[str, list[str]]:
    """Values seen in the log for the user, action and entity filters."""
    auth.require(user, "read_audit")
    frame = warehouse.read("admin_audit_choices")
    return {kind: frame.loc[frame["kind"] == kind, "value"].tolist() for kind in ("username", "action", "entity")}


def count(user: auth.User, filters: AuditFilter) -> int:
    """How many entries match (for the pager)."""
    auth.require(user, "read_audit")
    return int(warehouse.scalar("admin_audit_count", **filters.params()))


@auth.pii_reader("read_audit")
def search(
    user: auth.User, filters: AuditFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> tuple[pd.DataFrame, int]:
    """One page of matching entries (newest first) and the total number of matches."""
    auth.require(user, "read_audit")
    params = filters.params()
    page_size = max(1, min(int(page_size), 500))
    total = int(warehouse.scalar("admin_audit_count", **params))
    offset = (max(int(page), 1) - 1) * page_size
    rows = warehouse.read("admin_audit_search", **params, limit=page_size, offset=offset)
    return privacy.mask_frame(user, rows), total


@auth.pii_reader("read_audit")
def export_csv(user: auth.User, filters: AuditFilter) -> tuple[bytes, int]:
    """Every matching entry (up to EXPORT_LIMIT) as UTF-8 CSV (formula-safe); the export is audited."""
    auth.require(user, "read_audit")
    params = filters.params()
    rows = privacy.mask_frame(user, warehouse.read("admin_audit_search", **params, limit=EXPORT_LIMIT, offset=0))
    audit.record(
        None,
        user,
        "audit.export",
        "audit_log",
        None,
        detail={"rows": len(rows), "filters": {k: v for k, v in params.items() if v}},
    )
    # lib/security/exports.py: UTF-8 with BOM, and a username such as =HYPERLINK(...) typed into the
    # login form (a failed login is logged) cannot become a formula in the admin's spreadsheet
    return exports.to_csv(rows), len(rows)
