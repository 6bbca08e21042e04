"""The review queue: one worklist of everything that needs a steward.

Items are open quality flags (failed rules, values rejected at import, stale records: the
`not_stale` rule, whose months come from settings `stale_after_months`) and open duplicate
candidates, of live customers only, most severe first. The actions live in
lib/stewardship/edits.py (fix, verify, ignore) and lib/stewardship/dedup.py (merge, reject).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from lib.security import audit, auth, privacy
from lib.core import errors, normalize, validation, warehouse
from lib.stewardship import quality

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


BULK_ACTIONS = ("verify", "ignore")
MIN_REASON = 5  # as edits.ignore_flag


class BulkError(errors.ValidationError):
    """A bulk decision that cannot be applied (message meant for people)."""


@auth.pii_writer("resolve_flags")
@warehouse.retrying
def bulk_resolve(user: auth.User, flag_ids: list[int], action: str, reason: str) -> int:
    """Verify or ignore several open quality flags with one reason, in ONE transaction.

    verify: each flag's record is confirmed as correct (verified_at = now, version + 1, once
    per record), the flag closes as verified and the record's stale finding is re-checked;
    ignore: each flag closes as ignored. One audit row per record (customer.verify) or per flag
    (flag.ignore), each naming the bulk decision, like the one-at-a-time actions. Refused as a
    whole when a flag is no longer open (someone else decided it first): nothing is written."""
    auth.require(user, "resolve_flags")
    if action not in BULK_ACTIONS:
        raise BulkError(f"Unknown action {action!r}: use verify or ignore.")
    reason = normalize.text(reason) or ""
    if len(reason) < MIN_REASON:
        raise validation.ValidationError([validation.FieldError("reason", "reason.too_short")])
    ids = sorted({int(i) for i in flag_ids})
    if not ids:
        raise BulkError("Select at least one quality flag.")
    with warehouse.transaction() as tx:
        flags = tx.df("rv_flags_by_ids", flag_ids=ids)
        missing = sorted(set(ids) - set(flags["flag_id"].astype(int)))
        closed = flags.loc[flags["status"] != "open", "flag_id"].astype(int).tolist()
        if missing or closed:
            raise BulkError(
                f"{len(missing) + len(closed)} of the selected flags are no longer open "
                "(decided by someone else meanwhile): reload the list and select again."
            )
        bulk = {"bulk": True, "flags": len(ids), "reason": reason}
        if action == "ignore":
            for flag in flags.to_dict("records"):
                tx.run(
                    "stw_flag_set_status",
                    flag_id=int(flag["flag_id"]),
                    status="ignored",
                    username=user.username,
                    reason=reason,
                    version=int(flag["version"]),
                )
                audit.record(
                    tx,
                    user,
                    "flag.ignore",
                    "customer",
                    int(flag["customer_id"]),
                    before={"status": "open"},
                    after={"status": "ignored"},
                    detail={"flag_id": int(flag["flag_id"]), "rule_id": flag["rule_id"], **bulk},
                )
            return len(ids)
        for customer_id, group in flags.groupby("customer_id", sort=True):
            cid, version = int(customer_id), int(group["version"].iloc[0])
            before = tx.one("stw_customer_by_id", customer_id=cid)
            if tx.scalar("stw_customer_verify", customer_id=cid, expected_version=version) == 0:
                raise BulkError(f"Customer {cid} changed meanwhile: reload the list and select again.")
            after = tx.one("stw_customer_by_id", customer_id=cid)
            assert before is not None and after is not None  # the flag's join found the record
            for flag_id in group["flag_id"].astype(int).tolist():
                tx.run(
                    "stw_flag_set_status",
                    flag_id=flag_id,
                    status="verified",
                    username=user.username,
                    reason=reason,
                    version=after["version"],
                )
            quality.recheck_customer(tx, user, cid)  # resolves the stale flag
            audit.record(
                tx,
                user,
                "customer.verify",
                "customer",
                cid,
                before={"verified_at": _iso(before["verified_at"]), "version": before["version"]},
                after={"verified_at": _iso(after["verified_at"]), "version": after["version"]},
                detail={"flag_ids": group["flag_id"].astype(int).tolist(), **bulk},
            )
    return len(ids)


def _iso(value):
    return value.isoformat() if value is not None else None
