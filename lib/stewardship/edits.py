"""Steward edits of customer records: validated, versioned, audited, reversible.

Every edit checks `customers.version` (optimistic concurrency): the form carries the version it
was loaded with, and a save against a newer version raises StaleRecordError instead of silently
overwriting someone else's change. The audit entry of an edit names the changed columns with
their values before and after *masked* (lib/privacy.mask_for_audit: the append-only log never
holds a person's values, so an erasure need not rewrite it); the exact values that `undo_edit`
writes back are kept in customer_edit_values (the resident ID only as its encrypted token, hash
and last four characters), which an erasure deletes.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from lib.security import audit, auth, privacy, search_index
from lib.core import errors, normalize, settings, validation, warehouse
from lib.stewardship import entry_rules, quality
from lib.core.i18n import t


class StaleRecordError(errors.ConflictError, warehouse.WarehouseError):
    """Someone else saved the record first (its version moved on)."""

    def __init__(self, customer_id, message: str | None = None):
        super().__init__(message or t("stewards.v.conflict"))
        self.customer_id = customer_id


class EditError(errors.ValidationError):
    """An edit that cannot be applied as asked (unknown record, nothing to undo ...)."""


# Columns an edit may write (the UPDATE statement sets all of them from the merged row).
WRITABLE = (
    "family_name",
    "given_name",
    "full_name",
    "name_pinyin",
    "gender",
    "birth_date",
    "mobile",
    "email",
    "id_number_enc",
    "id_number_hash",
    "id_number_last4",
    "country",
    "province",
    "city",
    "district",
    "address",
    "postcode",
    "customer_type",
    "company",
    "industry",
    "job_title",
    "uscc",
    "raw_values",
)


@auth.pii_reader("view_customer")
def get(user: auth.User, customer_id: int) -> dict | None:
    """One record as this user may see it (lib.security.privacy.mask_record: contacts per role, the ID
    masked, no ciphertext or hash); None if unknown."""
    auth.require(user, "view_customer")
    row = _get(customer_id)
    return privacy.mask_record(user, row) if row else None


def _get(customer_id: int) -> dict | None:
    """The stored record, unmasked (for this module's and lib.stewardship.dedup's own checks only)."""
    row = warehouse.one("stw_customer_by_id", customer_id=int(customer_id))
    if row and isinstance(row.get("birth_date"), datetime):
        row["birth_date"] = row["birth_date"].date()
    return row


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value != value:  # NaN from pandas
        return None
    return value


def _raw_values(before: dict, fixed_fields) -> str | None:
    raw = json.loads(before["raw_values"]) if before.get("raw_values") else {}
    for f in fixed_fields:
        raw.pop(f, None)
    return json.dumps(raw, ensure_ascii=False, sort_keys=True) if raw else None


def _norm(value):
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if value != value:
        return None
    return value


def diff(before: dict, clean: dict) -> dict:
    """The columns whose value actually changes."""
    out = {}
    for k, v in clean.items():
        if k == "id_number_enc":
            continue
        if _norm(before.get(k)) != _norm(v):
            out[k] = v
    if "id_number_hash" in out or (
        "id_number_hash" in clean and clean["id_number_hash"] is None and before.get("id_number_hash")
    ):
        out["id_number_enc"] = clean.get("id_number_enc")
        out["id_number_last4"] = clean.get("id_number_last4")
        out["id_number_hash"] = clean.get("id_number_hash")
    return out


def _record_change(
    tx, user, action: str, customer_id: int, version: int, before: dict, after: dict, detail: dict
) -> None:
    """The exact values (for undo; erasure deletes them) and the audit entry, masked."""
    tx.run(
        "stw_edit_values_insert",
        customer_id=customer_id,
        version=version,
        before=audit.to_json(before),
        after=audit.to_json(after),
    )
    audit.record(
        tx,
        user,
        action,
        "customer",
        customer_id,
        before=privacy.mask_for_audit(before),
        after=privacy.mask_for_audit(after),
        detail=detail,
    )


@auth.pii_writer("edit_customer")
@warehouse.retrying
def update_customer(
    user: auth.User, customer_id: int, changes: dict, expected_version: int, flag_id: int | None = None
) -> dict:
    """Validate and save changed fields; resolve the flag being fixed and any other open flag
    the record passes now. Returns the saved record. Raises ValidationError, StaleRecordError."""
    auth.require(user, "edit_customer")
    customer_id = int(customer_id)
    current = _get(customer_id)
    if current is None or current["merged_into"] is not None or current["deleted_at"] is not None:
        raise EditError(f"Customer {customer_id} does not exist or was merged or deleted.")
    unknown = set(changes) - set(validation.EDITABLE_FIELDS)
    if unknown:
        raise EditError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    rules = entry_rules.in_force(current["source"], "customers")  # the rules imports use
    # validation returns a valid ID number plain: encrypted and hashed here, never stored or
    # audited as given
    clean = privacy.protect_id_number(
        validation.customer_fields(changes, current, today=settings.as_of(), required=rules.required)
    )
    with warehouse.transaction() as tx:
        before = tx.one("stw_customer_by_id", customer_id=customer_id)
        if before["version"] != int(expected_version):
            raise StaleRecordError(customer_id)
        if isinstance(before.get("birth_date"), datetime):
            before["birth_date"] = before["birth_date"].date()
        changed = diff(before, clean)
        fixed_fields = set(changes) | ({"id_number"} if "id_number_hash" in changed else set())
        raw_after = _raw_values(before, fixed_fields)
        if raw_after != _raw_values(before, ()):
            changed["raw_values"] = raw_after
        row = {c: before.get(c) for c in WRITABLE}  # raw_values: the stored text, unchanged
        row.update(changed)
        n = tx.scalar("stw_customer_update", customer_id=customer_id, expected_version=int(expected_version), **row)
        if n == 0:
            raise StaleRecordError(customer_id)
        search_index.refresh(tx, [customer_id])
        after = tx.one("stw_customer_by_id", customer_id=customer_id)
        before_audit = {k: _jsonable(before.get(k)) for k in changed}
        after_audit = {k: _jsonable(v) for k, v in changed.items()}
        before_audit["version"], after_audit["version"] = before["version"], after["version"]
        _record_change(
            tx,
            user,
            "customer.update",
            customer_id,
            after["version"],
            before_audit,
            after_audit,
            {"flag_id": flag_id, "fields": sorted(changed)},
        )
        if flag_id is not None:
            tx.run(
                "stw_flag_set_status",
                flag_id=int(flag_id),
                status="resolved",
                username=user.username,
                reason=None,
                version=after["version"],
            )
        resolved = set(fixed_fields)
        if {"mobile", "email"} & set(changes) and (after.get("mobile") or after.get("email")):
            resolved.add("contact")  # "not contactable" no more
        tx.run(
            "stw_flags_resolve_import_fields", customer_id=customer_id, fields=sorted(resolved), username=user.username
        )
        quality.recheck_customer(tx, user, customer_id)
    return after


@auth.pii_writer("edit_customer")
@warehouse.retrying
def undo_edit(user: auth.User, audit_id: int) -> dict:
    """Put back the values an edit replaced, if nobody changed the record since."""
    auth.require(user, "edit_customer")
    entry = warehouse.one("stw_audit_entry", audit_id=int(audit_id))
    if entry is None or entry["action"] != "customer.update":
        raise EditError("Only customer edits can be undone from the audit log.")
    if warehouse.scalar("stw_audit_undo_of", audit_id=int(audit_id)):
        raise EditError("This edit was already undone.")
    customer_id = int(entry["entity_id"])
    before_vals, after_vals = json.loads(entry["before"]), json.loads(entry["after"])
    kept = warehouse.one("stw_edit_values", customer_id=customer_id, version=after_vals["version"])
    if kept is not None:  # the exact values (the audit entry holds them masked)
        before_vals, after_vals = json.loads(kept["before"]), json.loads(kept["after"])
    elif any(isinstance(v, str) and "**" in v for v in before_vals.values()):
        raise EditError("The values of this edit were erased; it cannot be undone.")
    with warehouse.transaction() as tx:
        current = tx.one("stw_customer_by_id", customer_id=customer_id)
        if current is None or current["version"] != after_vals["version"]:
            raise StaleRecordError(
                customer_id, "The record changed after this edit; undoing it would overwrite the later change."
            )
        row = {c: current.get(c) for c in WRITABLE}
        if isinstance(row.get("birth_date"), datetime):
            row["birth_date"] = row["birth_date"].date()
        restore = {k: v for k, v in before_vals.items() if k != "version"}
        row.update(restore)
        n = tx.scalar("stw_customer_update", customer_id=customer_id, expected_version=current["version"], **row)
        if n == 0:
            raise StaleRecordError(customer_id)
        search_index.refresh(tx, [customer_id])
        after = tx.one("stw_customer_by_id", customer_id=customer_id)
        undo_before = {**{k: _jsonable(current.get(k)) for k in restore}, "version": current["version"]}
        undo_after = {**restore, "version": after["version"]}
        _record_change(
            tx,
            user,
            "customer.update_undo",
            customer_id,
            after["version"],
            undo_before,
            undo_after,
            {"undo_of": int(audit_id)},
        )
    return after


@auth.pii_writer("resolve_flags")
@warehouse.retrying
def verify(user: auth.User, customer_id: int, expected_version: int, flag_id: int | None = None) -> dict:
    """A steward confirms the record as correct: verified_at = now (the record is no longer
    stale), the flag (or every open flag of the record) is closed as verified."""
    auth.require(user, "resolve_flags")
    customer_id = int(customer_id)
    with warehouse.transaction() as tx:
        before = tx.one("stw_customer_by_id", customer_id=customer_id)
        if before is None:
            raise EditError(f"Customer {customer_id} does not exist.")
        if before["version"] != int(expected_version):
            raise StaleRecordError(customer_id)
        if tx.scalar("stw_customer_verify", customer_id=customer_id, expected_version=int(expected_version)) == 0:
            raise StaleRecordError(customer_id)
        after = tx.one("stw_customer_by_id", customer_id=customer_id)
        if flag_id is not None:
            tx.run(
                "stw_flag_set_status",
                flag_id=int(flag_id),
                status="verified",
                username=user.username,
                reason=None,
                version=after["version"],
            )
        else:
            tx.run("stw_flags_verify_open", customer_id=customer_id, username=user.username, version=after["version"])
        quality.recheck_customer(tx, user, customer_id)  # resolves the stale flag
        audit.record(
            tx,
            user,
            "customer.verify",
            "customer",
            customer_id,
            before={"verified_at": _jsonable(before["verified_at"]), "version": before["version"]},
            after={"verified_at": _jsonable(after["verified_at"]), "version": after["version"]},
            detail={"flag_id": flag_id},
        )
    return after


MIN_REASON = 5


@auth.pii_writer("resolve_flags")
@warehouse.retrying
def ignore_flag(user: auth.User, flag_id: int, reason: str) -> None:
    """Close a flag as 'ignored' with the steward's reason; the same finding stays closed until
    the record changes."""
    auth.require(user, "resolve_flags")
    reason = normalize.text(reason) or ""
    if len(reason) < MIN_REASON:
        raise validation.ValidationError([validation.FieldError("reason", "reason.too_short")])
    with warehouse.transaction() as tx:
        flag = tx.one("stw_flag_by_id", flag_id=int(flag_id))
        if flag is None or flag["status"] != "open":
            raise EditError("This flag is no longer open.")
        customer = tx.one("stw_customer_by_id", customer_id=flag["customer_id"])
        tx.run(
            "stw_flag_set_status",
            flag_id=int(flag_id),
            status="ignored",
            username=user.username,
            reason=reason,
            version=customer["version"],
        )
        audit.record(
            tx,
            user,
            "flag.ignore",
            "customer",
            flag["customer_id"],
            before={"status": "open"},
            after={"status": "ignored"},
            detail={"flag_id": int(flag_id), "rule_id": flag["rule_id"], "reason": reason},
        )


@auth.pii_reader("edit_customer")
def edit_history(user: auth.User, customer_id: int, limit: int = 20):
    """This customer's edits (for the undo list on the fix form), masked for the user."""
    auth.require(user, "edit_customer")
    return privacy.mask_frame(
        user, warehouse.read("stw_customer_edit_history", customer_id=int(customer_id), limit=limit)
    )
