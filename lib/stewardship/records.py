"""Customers added, edited, deleted and restored by hand (issue #16, items 1 and 2).

    check = records.check_new(user, values)             # ValidationError, or clean values + likely duplicates
    cid = records.create_customer(user, values)          # LikelyDuplicates unless allow_duplicates=True
    records.update_profile(user, cid, changes, version)  # EditConflict (yours and current values) ...
    records.delete_customer(user, cid, "moved abroad, asked us", version)
    records.restore_customer(user, cid, "deleted by mistake", version)

A new customer passes the same rules as an imported row: the scalar field validators of
lib.core.validation (which agree value for value with the import's frame checks), the entry
rules in force for the source ``manual`` (lib.stewardship.entry_rules: a required field whose
rule says *quarantine* refuses the form, one whose rule says *flag* saves the record with an
import flag, as an import would), the resident ID stored only as ciphertext, keyed hash and
last four (privacy.protect_id_number, as the importer), and the duplicate check: before saving,
live customers sharing a key the matcher blocks on are shown (`likely_duplicates`); after the
save, the stored splink model scores the new record like an imported one (dedup.match_new).

Edits go through lib.stewardship.edits.update_customer (version check, exact values kept in
customer_edit_values for undo, masked audit entry); this module only adds the duplicate check
and a conflict error that carries both values.

A deleted customer keeps every row (orders, events, consents, tags) and is left out of every
count, segment, audience, export, search, duplicate candidate and model: each query over
customers filters ``deleted_at IS NULL``. Delete and restore write an audit entry (the reason
in its detail), move the record's version and refresh the dashboards' aggregates through the
after-load hook. Erasure (lib.security.privacy.erase_customer) is a different, admin action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from lib.core import errors, hooks, normalize, settings, validation, warehouse
from lib.core.i18n import t
from lib.security import audit, auth, privacy, search_index
from lib.stewardship import dedup, edits, entry_rules

SOURCE = "manual"
MIN_REASON = 5
# Acquisition channels a steward may give a customer typed in by hand (labels: dash.channel.*).
CHANNELS = ("store", "phone", "web", "app", "wechat", "referral", "ads", "partner")
FIELDS = validation.EDITABLE_FIELDS
# Fields the duplicate matcher blocks on: an edit of one of them is checked for duplicates.
IDENTIFYING = ("full_name", "birth_date", "mobile", "email", "id_number", "city")


class LikelyDuplicates(errors.ConflictError):
    """Live customers that look like the same person: shown before anything is saved."""

    def __init__(self, matches: pd.DataFrame):
        super().__init__(t("records.dup.found", n=len(matches)))
        self.matches = matches


class EditConflict(edits.StaleRecordError):
    """Someone saved the record after the form was opened: nothing was written. `yours` and
    `current` hold, per field of the edit, the value typed and the value stored now (masked
    for the user); `version` is the record's version now."""

    def __init__(self, customer_id: int, yours: dict, current: dict, version: int | None):
        super().__init__(customer_id, t("records.edit.conflict", version=version))
        self.yours, self.current, self.version = yours, current, version


class RecordError(errors.ValidationError):
    """A delete or restore that cannot be done as asked."""


@dataclass
class NewCustomer:
    """A validated new customer, not saved: the stored column values (the ID number already
    encrypted and hashed), the entry-rule flags it will get, and likely duplicates (masked)."""

    clean: dict
    flags: list[tuple[str, str]] = field(default_factory=list)  # (field, code)
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)


def _blank_to_none(values: dict) -> dict:
    out = {}
    for k in FIELDS:
        v = values.get(k)
        if isinstance(v, str):
            v = v.strip() or None
        out[k] = v
    return out


def default_country() -> str:
    """The country of a typed-in customer left without one (the manual source's entry rules)."""
    return entry_rules.in_force(SOURCE, "customers").country or "CN"


def _validate_new(values: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Field validators and the entry rules of the manual source: (clean columns, flags)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise RecordError(t("records.unknown_fields", fields=", ".join(sorted(unknown))))
    rules = entry_rules.in_force(SOURCE, "customers")
    changes = _blank_to_none(values)
    if not changes.get("country"):
        changes["country"] = rules.country or "CN"
    clean = validation.customer_fields(changes, {}, today=settings.as_of(), required=rules.required)
    flags: list[tuple[str, str]] = []
    for name, action in rules.required.items():
        if action != "flag":
            continue
        if name == "contact":
            if not clean.get("mobile") and not clean.get("email"):
                flags.append(("contact", "contact.none"))
        elif name in FIELDS and clean.get(name) is None:
            flags.append((name, "required.missing"))
    clean["customer_type"] = clean.get("customer_type") or "B2C"
    return clean, flags


def _find_duplicates(user: auth.User, clean: dict, exclude_id: int | None = None) -> pd.DataFrame:
    pinyin = clean.get("name_pinyin")
    py = pinyin.split("|")[0].replace(" ", "") if isinstance(pinyin, str) and pinyin else None
    number = clean.get("id_number")
    birth = clean.get("birth_date")
    frame = warehouse.read(
        "rec_likely_duplicates",
        mobile=clean.get("mobile"),
        email=clean.get("email"),
        id_hash=privacy.id_hash(number) if number else clean.get("id_number_hash"),
        birth_date=birth.isoformat() if isinstance(birth, date) else None,
        full_name=clean.get("full_name"),
        py=py or None,
        city=clean.get("city"),
        exclude_id=exclude_id,
    )
    if not frame.empty:
        frame["matched"] = [", ".join(str(m) for m in list(v)) for v in frame["matched"]]
    return privacy.mask_frame(user, frame)


@auth.pii_reader("edit_customer")
def likely_duplicates(user: auth.User, values: dict) -> pd.DataFrame:
    """Live customers sharing a blocking key with these (validated) values, masked for the user:
    customer_id, full_name, mobile, email, birth_date, city, id_number_last4, source, matched."""
    auth.require(user, "edit_customer")
    clean, _ = _validate_new(values)
    return _find_duplicates(user, clean)


@auth.pii_reader("edit_customer")
def check_new(user: auth.User, values: dict) -> NewCustomer:
    """Everything the form shows before a save, nothing written: raises ValidationError (every
    failing field) and returns the clean values, entry-rule flags and likely duplicates."""
    auth.require(user, "edit_customer")
    clean, flags = _validate_new(values)
    duplicates = _find_duplicates(user, clean)
    return NewCustomer(privacy.protect_id_number(clean), flags, duplicates)


@auth.pii_writer("edit_customer")
def create_customer(user: auth.User, values: dict, *, channel: str = "store", allow_duplicates: bool = False) -> int:
    """Validate and store one new customer (source 'manual'); returns its id. Raises
    ValidationError, or LikelyDuplicates (nothing written) unless allow_duplicates."""
    auth.require(user, "edit_customer")
    if channel not in CHANNELS:
        raise RecordError(t("records.channel_unknown", channel=channel))
    clean, flags = _validate_new(values)
    duplicates = _find_duplicates(user, clean)
    if len(duplicates) and not allow_duplicates:
        raise LikelyDuplicates(duplicates)
    stored = privacy.protect_id_number(clean)
    customer_id = _insert(user, stored, flags, channel, [int(i) for i in duplicates["customer_id"].tolist()])
    hooks.loaded(hooks.Load("create", f"{SOURCE}:{customer_id}", (customer_id,)))
    try:  # the import's check after the load: the stored model scores the new record
        dedup.match_new(auth.SYSTEM, [customer_id])
    except dedup.NoModel:
        pass
    return customer_id


@warehouse.retrying
def _insert(user: auth.User, stored: dict, flags: list[tuple[str, str]], channel: str, overridden: list[int]) -> int:
    row = {c: stored.get(c) for c in edits.WRITABLE if c != "raw_values"}
    birth = row.get("birth_date")
    row["birth_date"] = birth.isoformat() if isinstance(birth, date) else None
    with warehouse.transaction() as tx:
        customer_id = int(tx.scalar("stw_reserve_customer_ids", n=1)[0])
        tx.run(
            "rec_insert_customer",
            customer_id=customer_id,
            source=SOURCE,
            source_record_id=f"M{customer_id}",
            channel=channel,
            **row,
        )
        search_index.refresh(tx, [customer_id])
        for name, code in flags:
            tx.run(
                "rec_insert_entry_flag",
                customer_id=customer_id,
                field=name,
                detail=audit.to_json({"code": code, "raw": None}),
            )
        after = {k: v for k, v in row.items() if v is not None and k not in ("id_number_enc", "id_number_hash")}
        audit.record(
            tx,
            user,
            "customer.create",
            "customer",
            customer_id,
            after=privacy.mask_for_audit({**after, "version": 1}),
            detail={
                "source": SOURCE,
                "channel": channel,
                "flags": [f"{n}:{c}" for n, c in flags],
                "duplicates_shown": overridden,
            },
        )
    return customer_id


def changed_fields(loaded: dict, submitted: dict) -> dict:
    """The form fields whose text differs from the record as it was shown (blank = cleared).
    An ID number is sent only when typed (the form shows it masked)."""
    out: dict[str, str | None] = {}
    for k, v in submitted.items():
        if k not in FIELDS:
            continue
        text = v.strip() if isinstance(v, str) else ("" if v is None else str(v))
        if k == "id_number":
            if text:
                out[k] = text
            continue
        shown = loaded.get(k)
        shown_text = "" if shown is None or (isinstance(shown, float) and shown != shown) else str(shown)
        if isinstance(shown, (date, datetime)) and not isinstance(shown, str):
            shown_text = shown.strftime("%Y-%m-%d")
        if text != shown_text:
            out[k] = text or None
    return out


@auth.pii_writer("edit_customer")
def update_profile(
    user: auth.User, customer_id: int, changes: dict, expected_version: int, *, allow_duplicates: bool = False
) -> dict:
    """Save an edit of the profile (lib.stewardship.edits.update_customer: validation with the
    record's entry rules, version check, exact values for undo, audit). Raises ValidationError,
    LikelyDuplicates when an identifying field now matches another live customer (unless
    allow_duplicates), or EditConflict with both values when the record changed meanwhile."""
    auth.require(user, "edit_customer")
    customer_id = int(customer_id)
    current = edits._get(customer_id)
    if current is None or current["merged_into"] is not None or current["deleted_at"] is not None:
        raise edits.EditError(f"Customer {customer_id} does not exist or was merged or deleted.")
    if int(current["version"]) != int(expected_version):
        raise _conflict(user, customer_id, changes)
    if not allow_duplicates and set(changes) & set(IDENTIFYING):
        rules = entry_rules.in_force(current["source"], "customers")
        clean = validation.customer_fields(changes, current, today=settings.as_of(), required=rules.required)
        merged = {k: current.get(k) for k in ("full_name", "name_pinyin", "mobile", "email", "birth_date", "city")}
        merged["id_number_hash"] = current.get("id_number_hash")
        merged.update(clean)
        duplicates = _find_duplicates(user, merged, exclude_id=customer_id)
        if len(duplicates):
            raise LikelyDuplicates(duplicates)
    try:
        return edits.update_customer(user, customer_id, changes, expected_version)
    except edits.StaleRecordError:
        raise _conflict(user, customer_id, changes) from None


def _conflict(user: auth.User, customer_id: int, changes: dict) -> EditConflict:
    now = edits.get(user, customer_id) or {}
    yours, current = {}, {}
    for k, v in changes.items():
        yours[k] = privacy.mask_id_text(v) if k == "id_number" and v else v
        stored = now.get(k)
        if isinstance(stored, datetime):
            stored = stored.date()
        current[k] = stored.isoformat() if isinstance(stored, date) else stored
    return EditConflict(customer_id, yours, current, now.get("version"))


def _reason(reason: str | None, required: bool) -> str | None:
    text = normalize.text(reason)
    if required and (text is None or len(text) < MIN_REASON):
        raise validation.ValidationError([validation.FieldError("reason", "reason.too_short")])
    return text


def delete_customer(user: auth.User, customer_id: int, reason: str, expected_version: int) -> dict:
    """Soft-delete a customer (reason required): every row stays, the record leaves every count,
    segment, audience, export, search and model until restored. Audited; aggregates refreshed."""
    auth.require(user, "delete_customer")
    text = _reason(reason, True)
    after = _set_deleted(user, int(customer_id), int(expected_version), True, text)
    hooks.loaded(hooks.Load("delete", str(int(customer_id))))
    return after


def restore_customer(user: auth.User, customer_id: int, reason: str | None, expected_version: int) -> dict:
    """Undo a soft delete (reason optional): the customer counts again everywhere. Audited;
    aggregates refreshed."""
    auth.require(user, "delete_customer")
    text = _reason(reason, False)
    after = _set_deleted(user, int(customer_id), int(expected_version), False, text)
    hooks.loaded(hooks.Load("restore", str(int(customer_id))))
    return after


@warehouse.retrying
def _set_deleted(user: auth.User, customer_id: int, expected_version: int, delete: bool, reason: str | None) -> dict:
    with warehouse.transaction() as tx:
        before = tx.one("rec_customer_state", customer_id=customer_id)
        if before is None:
            raise RecordError(t("records.not_found", id=customer_id))
        if before["merged_into"] is not None:
            raise RecordError(t("records.merged", id=customer_id, into=before["merged_into"]))
        if delete and before["deleted_at"] is not None:
            raise RecordError(t("records.already_deleted", id=customer_id))
        if not delete and before["deleted_at"] is None:
            raise RecordError(t("records.not_deleted", id=customer_id))
        if int(before["version"]) != expected_version:
            raise edits.StaleRecordError(customer_id)
        n = tx.scalar(
            "rec_soft_delete" if delete else "rec_restore", customer_id=customer_id, expected_version=expected_version
        )
        if n == 0:
            raise edits.StaleRecordError(customer_id)
        search_index.refresh(tx, [customer_id])
        after = tx.one("rec_customer_state", customer_id=customer_id) or {}
        audit.record(
            tx,
            user,
            "customer.delete" if delete else "customer.restore",
            "customer",
            customer_id,
            before={"deleted_at": before["deleted_at"], "version": before["version"]},
            after={"deleted_at": after["deleted_at"], "version": after["version"]},
            detail={"reason": reason},
        )
    return after


@auth.pii_reader("view_customer")
def deletion(user: auth.User, customer_id: int) -> dict | None:
    """Who deleted a deleted customer, when and why (None if the record is not deleted)."""
    auth.require(user, "view_customer")
    state = warehouse.one("rec_customer_state", customer_id=int(customer_id))
    if state is None or state["deleted_at"] is None:
        return None
    entry = warehouse.one("rec_last_deletion", customer_id=int(customer_id)) or {}
    return {
        "deleted_at": state["deleted_at"],
        "username": entry.get("username"),
        "reason": privacy.mask_value(user, entry.get("reason")) if entry.get("reason") else None,
        "version": state["version"],
    }


@auth.pii_reader("delete_customer")
def recently_deleted(user: auth.User, limit: int = 20) -> pd.DataFrame:
    """Deleted customers, newest deletion first: customer_id, full_name, deleted_at, deleted_by,
    reason (masked for the user). Search leaves them out; this is how stewards find them."""
    auth.require(user, "delete_customer")
    return privacy.mask_frame(user, warehouse.read("rec_recently_deleted", limit=int(limit)))
