"""The review queue: one worklist of everything that needs a steward.

Items are open quality flags (failed rules, values rejected at import, stale records: the
`not_stale` rule, whose months come from settings `stale_after_months`) and open duplicate
candidates, of live customers only, most severe first. The actions live in
lib/stewardship/edits.py (fix, verify, ignore) and lib/stewardship/dedup.py (merge, reject).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from lib.security import auth, privacy
from lib.core import warehouse

CATEGORIES = ("rule", "import", "duplicate", "stale")


@dataclass
class QueueFilter:
    categories: list[str] = field(default_factory=list)  # empty = all
    severities: list[str] = field(default_factory=list)
    field: str | None = None
    source: str | None = None
    rule_id: str | None = None


@auth.pii_reader("resolve_flags")
def items(user: auth.User, f: QueueFilter | None = None, limit: int = 100, offset: int = 0) -> pd.DataFrame:
    """One page of the worklist, most severe first."""
    auth.require(user, "resolve_flags")
    f = f or QueueFilter()
    bad = set(f.categories) - set(CATEGORIES)
    if bad:
        raise ValueError(f"Unknown categories: {', '.join(sorted(bad))}")
    frame = warehouse.read(
        "stw_review_items",
        categories=list(f.categories),
        severities=list(f.severities),
        field=f.field,
        source=f.source,
        rule_id=f.rule_id,
        limit=int(limit),
        offset=int(offset),
    )
    return privacy.mask_frame(user, frame)


def counts(user: auth.User) -> pd.DataFrame:
    """Open items per category and severity."""
    auth.require(user, "resolve_flags")
    return warehouse.read("stw_review_counts")


def sources() -> list[str]:
    return warehouse.read("stw_review_sources")["source"].tolist()


@auth.pii_reader("resolve_flags")
def flag(user: auth.User, flag_id: int) -> dict | None:
    """One flag; its detail (the rejected raw value, ...) masked for the user like every
    reader's output (lib.security.privacy.mask_value, judged by the flag's field)."""
    auth.require(user, "resolve_flags")
    row = warehouse.one("stw_flag_by_id", flag_id=int(flag_id))
    if row is not None:
        row["detail"] = privacy.mask_value(user, row["detail"], row["field"])
    return row
