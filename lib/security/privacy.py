"""Field encryption, keyed hashes, masking, and the audited privacy actions on personal data:
revealing an ID number, key rotation, consent, data-subject export and erasure.

Resident-ID numbers are encrypted with Fernet (AES-128-CBC + HMAC, from `cryptography`).
MultiFernet lets us rotate keys: the newest key encrypts, every listed key decrypts.
A keyed hash (HMAC-SHA256) of the normalised number supports exact look-ups and
de-duplication without decrypting anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lib.security import audit, auth
from lib.core import config, warehouse, errors
from lib.core import parallel


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def cipher() -> MultiFernet:
    return _fernet(tuple(config.field_keys()))


def encrypt(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    return cipher().encrypt(value.encode()).decode()


def protect_id_number(clean: dict) -> dict:
    """Validated customer fields with a plain `id_number` -> the stored columns: the number
    encrypted (id_number_enc) and keyed-hashed (id_number_hash); the plain value is dropped."""
    if "id_number" not in clean:
        return clean
    out = dict(clean)
    number = out.pop("id_number")
    out["id_number_enc"] = encrypt(number)
    out["id_number_hash"] = id_hash(number)
    return out


def encrypt_many(values: list[str | None]) -> list[str | None]:
    """Encrypt a column of values (None stays None). Large columns are split over worker
    processes (see encrypt_many_job); the tokens are ordinary Fernet tokens either way."""
    return encrypt_many_job(values).result()


def encrypt_many_job(values: list[str | None]):
    """Start encrypting a column and return at once: `.result()` gives the tokens in order.
    From lib.core.parallel.THRESHOLD values on, Fernet (Python per value) runs in worker processes
    while the caller goes on with other work; smaller columns are encrypted here and now."""
    return parallel.submit(_encrypt_chunk, list(values), key_fingerprint())


def _encrypt_chunk(values: list[str | None], fingerprint: str) -> list[str | None]:
    _same_secret(fingerprint, key_fingerprint())
    f = cipher()
    return [f.encrypt(v.encode()).decode() if v else None for v in values]


def key_fingerprint() -> str:
    """SHA-256 over the configured field keys: names a key set without revealing it."""
    return hashlib.sha256(b"\n".join(config.field_keys())).hexdigest()


def _same_secret(expected: str, found: str) -> None:
    # In a worker process the keys come from lib.core.config, as in the parent; the fingerprint
    # proves they are the same keys (the keys themselves never travel between processes).
    if not hmac.compare_digest(expected, found):
        raise RuntimeError("A worker process read other keys from the configuration than the process that started it.")


def decrypt(token: str | None) -> str | None:
    if token in (None, ""):
        return None
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "The value cannot be decrypted with the configured keys (was a field key removed before rotation finished?)"
        ) from exc


def id_hash(value: str | None) -> str | None:
    """Keyed hash of an identifier, normalised (upper-case, no spaces)."""
    if value in (None, ""):
        return None
    return _keyed_hash(config.hash_key(), value)


def id_hash_many(values: list[str | None]) -> list[str | None]:
    """id_hash for a column: the key is looked up once, not once per value."""
    return id_hash_many_job(values).result()


def id_hash_many_job(values: list[str | None]):
    """Start id_hash over a column and return at once (worker processes from
    lib.core.parallel.THRESHOLD values on, like encrypt_many_job); `.result()` gives the hashes."""
    return parallel.submit(_hash_chunk, list(values), hashlib.sha256(config.hash_key()).hexdigest())


def _hash_chunk(values: list[str | None], fingerprint: str) -> list[str | None]:
    key = config.hash_key()
    _same_secret(fingerprint, hashlib.sha256(key).hexdigest())
    return [_keyed_hash(key, v) if v else None for v in values]


def _keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, "".join(value.split()).upper().encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- masking


def mask_phone(phone: str | None) -> str | None:
    """+8613812345678 -> +86 138****5678. Other numbers keep at most 3 leading and 4 trailing
    digits and always hide at least 4; short (often invalid) values hide all but 2 + 2."""
    if not phone:
        return phone
    digits = phone.lstrip("+")
    if phone.startswith("+86") and len(digits) == 13:
        national = digits[2:]
        return f"+86 {national[:3]}****{national[-4:]}"
    prefix = "+" if phone.startswith("+") else ""
    if len(digits) >= 11:
        return f"{prefix}{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    if len(digits) > 6:
        return f"{prefix}{digits[:2]}{'*' * (len(digits) - 4)}{digits[-2:]}"
    return "*" * len(digits)


def mask_email(email: str | None) -> str | None:
    """zhang.wei@example.com -> z***@example.com."""
    if not email or "@" not in email:
        return "***" if email else email
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_id_number(last4: str | None) -> str | None:
    """Resident ID shown as 14 stars and its last four characters."""
    return f"{'*' * 14}{last4}" if last4 else None


def mask_text(value: str | None, keep: int = 1) -> str | None:
    """Generic masking for free text such as street addresses: first characters only."""
    if not value:
        return value
    return value[:keep] + "*" * max(len(value) - keep, 2)


# ---------------------------------------------------------------- role-aware presentation
#
# ONE masking function for everything a reader returns: a record, a frame, and JSON nested in
# them (quality-flag details, raw import values, quarantined rows, audit before/after). Values
# are judged by the key that holds them (a flag detail's "raw" by the flag's field), and strings
# under other keys are scanned for ID numbers, Fernet tokens and keyed hashes (always hidden)
# and for phone numbers and e-mail addresses (hidden unless the role may see contacts).

# Keys whose value is contact data: shown only with `view_contact_pii` (steward, admin).
CONTACT_FIELDS = {"mobile": mask_phone, "phone": mask_phone, "email": mask_email, "address": mask_text}
# Plaintext ID numbers: always shown masked (revealing is a separate, audited action).
ID_FIELDS = {"id_number"}
# Never shown to anyone: ciphertexts and keyed hashes.
SECRET_FIELDS = {"id_number_enc", "id_number_hash", "id_number_cipher", "enc", "hash"}
# Keys whose value holds JSON (as text or parsed) to be masked inside.
JSON_FIELDS = {"raw_values", "raw", "detail", "before", "after", "survivor", "merged", "values"}
# Free text (complaint notes, stewards' reasons): scanned for IDs, tokens and contacts.
FREE_TEXT_FIELDS = {"note", "reason", "comment", "handled_note"}  # comment, handled_note: feedback
# Inside a dict, these keys carry the value of the field named by the context (a flag's field).
VALUE_KEYS = {"raw", "value", "old", "new"}

_FERNET_RE = re.compile(r"gAAAAA[A-Za-z0-9_\-]{20,}={0,2}")
_HASH_RE = re.compile(r"\b[0-9a-f]{64}\b")
_ID_RE = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_EMAIL_RE = re.compile(r"[^\s@\"',;<>]+@[^\s@\"',;<>]+\.[A-Za-z]{2,}")
_PHONE_RE = re.compile(r"(?<![0-9*])\+?[0-9]{2,4}(?:[ \-]?[0-9]{3,4}){2,3}(?![0-9*])")


def can_see_contacts(user) -> bool:
    return auth.can(user, "view_contact_pii")


def mask_id_text(value) -> str | None:
    """Any form of an ID number (plain, compact or already masked) as 14 stars + last four."""
    if value in (None, ""):
        return value
    text = "".join(str(value).split())
    return mask_id_number(text[-4:]) if len(text) >= 4 else "*" * len(text)


def scrub_text(value: str, see_contacts: bool) -> str:
    """Free text: ID numbers, tokens and hashes hidden always; contacts unless allowed."""
    value = _FERNET_RE.sub("[encrypted]", value)
    value = _HASH_RE.sub("[hash]", value)
    value = _ID_RE.sub(lambda m: mask_id_number(m.group(3)) or "", value)
    if not see_contacts:
        value = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)) or "", value)
        value = _PHONE_RE.sub(lambda m: mask_phone(re.sub(r"[ \-()]", "", m.group(0))) or "", value)
    return value


def _parse_json(value):
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value), True
        except ValueError:
            return value, False
    return value, False


def _mask_field(key: str | None, value, see: bool, context: str | None = None):
    """One value held under `key` (context: the field a nested dict is about)."""
    if value is None or (isinstance(value, float) and value != value):
        return value
    field = context if key in VALUE_KEYS and context else key
    if field in SECRET_FIELDS:
        return None
    if field in ID_FIELDS:
        if isinstance(value, dict):  # an encrypted ID kept as {enc, hash, last4}
            return mask_id_number(value.get("last4"))
        return mask_id_text(value)
    if field in CONTACT_FIELDS and not isinstance(value, (dict, list)):
        return value if see else CONTACT_FIELDS[field](str(value))
    if isinstance(value, dict):
        return _mask_dict(value, see, key if key in CONTACT_FIELDS else context)
    if isinstance(value, list):
        return [_mask_field(key, v, see, context) for v in value]
    if isinstance(value, str):
        parsed, was_json = _parse_json(value) if key in JSON_FIELDS else (value, False)
        if was_json:
            return json.dumps(
                _mask_field(key, parsed, see, context),
                ensure_ascii=False,
                sort_keys=isinstance(parsed, dict),
                default=str,
            )
        return scrub_text(value, see)
    return value


def _mask_dict(record: dict, see: bool, context: str | None = None) -> dict:
    out = {}
    field = record.get("field") if isinstance(record.get("field"), str) else context
    for key, value in record.items():
        if key in SECRET_FIELDS:
            continue
        if key == "id_number_last4":
            if "id_number" not in record:
                out["id_number"] = mask_id_number(value) if value else None
            continue
        out[key] = _mask_field(key, value, see, field)
    return out


def mask_value(user, value, field: str | None = None):
    """Any value a reader returns (dict, list, JSON text, plain text) as this user may see it.
    `field`: the customer field the value belongs to (a flag's field for its detail)."""
    see = can_see_contacts(user)
    if isinstance(value, dict):
        return _mask_dict(value, see, field)
    parsed, was_json = _parse_json(value)
    if was_json:
        return json.dumps(
            mask_value(user, parsed, field), ensure_ascii=False, default=str, sort_keys=isinstance(parsed, dict)
        )
    if isinstance(value, list):
        return [mask_value(user, v, field) for v in value]
    return (
        _mask_field(field, value, see, field)
        if field
        else (scrub_text(value, see) if isinstance(value, str) else value)
    )


def mask_record(user, record: dict) -> dict:
    """A customer record (or any row) as this user may see it: contacts and the street address
    masked unless the role allows, the resident ID always masked (revealing it is a separate,
    audited action), ciphertexts and hashes dropped, JSON values masked inside."""
    return _mask_dict(dict(record), can_see_contacts(user))


def mask_frame(user, frame):
    """mask_record for a DataFrame (a page of results, an export): the same rules per column.
    Columns of known personal fields and JSON columns are masked value by value; other text
    columns are left alone (they hold codes, names and ids, not contacts)."""
    see = can_see_contacts(user)
    frame = frame.copy()
    for column in list(frame.columns):
        key = str(column)
        if key in SECRET_FIELDS:
            frame = frame.drop(columns=[column])
        elif key == "id_number_last4":
            frame["id_number"] = frame.pop(column).map(lambda v: mask_id_number(v) if isinstance(v, str) else None)
        elif key in FREE_TEXT_FIELDS:
            frame[column] = frame[column].map(lambda v: scrub_text(v, see) if isinstance(v, str) else v)
        elif key in CONTACT_FIELDS:
            if not see:  # the plain mask per value (exports are large)
                mask = CONTACT_FIELDS[key]
                frame[column] = frame[column].map(lambda v, m=mask: m(v) if isinstance(v, str) else v)
        elif key in ID_FIELDS or key in JSON_FIELDS:
            frame[column] = frame[column].map(
                lambda v, k=key: _mask_field(k, v, see) if isinstance(v, (str, dict, list)) else v
            )
    return frame


def mask_for_audit(value):
    """Before/after values as the audit log keeps them: every personal value masked (contacts,
    names, dates of birth, addresses, ID numbers; ciphertexts and hashes dropped), so that the
    append-only log never needs rewriting when a person is erased. The values an undo needs
    live in customer_edit_values, which erasure clears (see ERASURE_REGISTRY)."""
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if key in SECRET_FIELDS:
                continue
            if key == "id_number_last4":
                out["id_number"] = mask_id_number(v) if v else None
            elif key in AUDIT_MASKED_FIELDS and v not in (None, "") and not isinstance(v, (dict, list)):
                out[key] = AUDIT_MASKED_FIELDS[key](str(v))
            else:
                out[key] = mask_for_audit(v)
        return out
    if isinstance(value, list):
        return [mask_for_audit(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value, see_contacts=False)
    return value


def _mask_date(value: str) -> str:
    return value[:4] + "-**-**" if len(value) >= 4 else "****"


AUDIT_MASKED_FIELDS = {
    "mobile": mask_phone,
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_text,
    "id_number": mask_id_text,
    "full_name": mask_text,
    "family_name": mask_text,
    "given_name": mask_text,
    "name_pinyin": lambda v: mask_text(v, 1),
    "birth_date": _mask_date,
    "postcode": lambda v: mask_text(v, 3),
    "uscc": lambda v: mask_text(v, 2),
    "company": mask_text,
    "job_title": mask_text,
    "raw_values": lambda v: mask_text(v, 0),
}


# ---------------------------------------------------------------- ID numbers kept encrypted


def sealed_id(value: str | None) -> dict | None:
    """An ID number as it may be kept outside customers (a quarantined row, a rejected value):
    ciphertext, keyed hash and last four, never the number itself."""
    text = "".join(str(value or "").split()).upper()
    if not text:
        return None
    return {"enc": encrypt(text), "hash": id_hash(text), "last4": text[-4:]}


def unseal_id(value) -> str | None:
    """The number inside sealed_id(...) (or a plain string, as older rows hold it)."""
    if isinstance(value, dict):
        return decrypt(value.get("enc"))
    return value or None


# ================================================================ audited PII access and
# data-subject rights (admin area). Everything below checks the permission first, validates,
# and writes its audit entry in the same transaction as the change or read it records.

CHANNELS = ("sms", "email", "phone")
CONSENT_STATUSES = ("granted", "withdrawn")
MIN_REASON_LENGTH = 5
ERASED_NAME = "[erased]"
ROTATION_BATCH = 50_000
# Columns that point at a customer: rows holding them are part of a data-subject export.
_SUBJECT_KEY_RE = re.compile(r"^(customer_id|.+_customer_id|customer_id_.+|merged_into|duplicate_of)$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PrivacyError(errors.ValidationError):
    """An invalid privacy request (missing reason, unknown customer ...), for people to read."""


def _customer_id(value) -> int:
    try:
        cid = int(str(value).strip())
    except (TypeError, ValueError):
        raise PrivacyError(f"{value!r} is not a customer id.") from None
    if cid <= 0:
        raise PrivacyError(f"{value!r} is not a customer id.")
    return cid


def _reason(value: str | None) -> str:
    reason = " ".join((value or "").split())
    if len(reason) < MIN_REASON_LENGTH:
        raise PrivacyError(f"Give a reason (at least {MIN_REASON_LENGTH} characters); it is kept in the audit log.")
    if len(reason) > 500:
        raise PrivacyError("Keep the reason under 500 characters.")
    return reason


@auth.pii_reader("view_customer")
def subject_summary(user, customer_id) -> dict | None:
    """Who a privacy request is about, masked as this user may see it (None if unknown)."""
    auth.require(user, "view_customer")
    row = warehouse.one("privacy_subject_summary", customer_id=_customer_id(customer_id))
    return mask_record(user, row) if row else None


# ---------------------------------------------------------------- reveal


@auth.pii_reader("reveal_id_number")
@warehouse.retrying
def reveal_id_number(user, customer_id, reason: str) -> str | None:
    """The decrypted resident-ID number (admin only, reason required). The audit entry is
    committed before the value is returned: no reveal goes unrecorded."""
    auth.require(user, "reveal_id_number")
    reason, cid = _reason(reason), _customer_id(customer_id)
    with warehouse.transaction() as tx:
        row = tx.one("privacy_id_token", customer_id=cid)
        if row is None:
            raise PrivacyError(f"There is no customer {cid}.")
        value = decrypt(row["id_number_enc"])
        audit.record(
            tx,
            user,
            "pii.reveal",
            "customer",
            cid,
            detail={"field": "id_number", "reason": reason, "found": value is not None},
        )
    return value


# ---------------------------------------------------------------- key rotation


@auth.pii_writer("rotate_keys")
def rotate_keys(user, batch_size: int = ROTATION_BATCH) -> dict:
    """Re-encrypt every resident-ID number under the newest field key.

    Batches commit one by one (keyset order): a crash half-way is harmless because every
    configured key still decrypts, and running it again finishes the job. Only after it
    reports ``remaining_old == 0`` may the old key be removed from C360_FIELD_KEYS.
    """
    auth.require(user, "rotate_keys")
    f = cipher()
    after, rotated, skipped, batches = 0, 0, 0, 0
    while True:
        batch = warehouse.read("privacy_token_batch", after=after, batch_size=int(batch_size))
        if batch.empty:
            break
        old = batch["id_number_enc"].astype(object).tolist()
        new = []
        for cid, token in zip(batch["customer_id"].tolist(), old):
            try:
                new.append(f.rotate(token.encode()).decode())
            except InvalidToken:
                raise PrivacyError(
                    f"Customer {cid}'s ID number cannot be decrypted with the "
                    "configured keys; nothing after it was rotated. Add the key "
                    "it was written with to C360_FIELD_KEYS and run again."
                ) from None
        frame = pd.DataFrame({"customer_id": batch["customer_id"].astype("int64"), "old_token": old, "new_token": new})
        done = _apply_rotation(frame)
        rotated += done
        skipped += len(frame) - done
        batches += 1
        after = int(frame["customer_id"].iloc[-1])
    result = {
        "rows_rotated": rotated,
        "rows_changed_meanwhile": skipped,
        "batches": batches,
        "keys_configured": len(config.field_keys()),
    }
    audit.record(None, user, "keys.rotate", "customer", None, detail=result)
    return result


@warehouse.retrying
def _apply_rotation(frame: pd.DataFrame) -> int:
    with warehouse.transaction() as tx:
        tx.register("rotation_batch", frame)
        try:
            before = tx.scalar(
                warehouse.raw_sql(
                    "SELECT count(*) FROM customers c JOIN rotation_batch r"
                    " ON c.customer_id = r.customer_id AND c.id_number_enc = r.old_token"
                )
            )
            tx.run("privacy_apply_rotation")
        finally:
            tx.unregister("rotation_batch")
    return int(before)


@auth.pii_internal("counts tokens the newest key cannot decrypt; returns a number")
def undecryptable_with_newest_key(sample: int | None = None) -> int:
    """How many stored ID numbers the newest key alone cannot decrypt (0 after a full rotation)."""
    newest = Fernet(config.field_keys()[0])
    after, bad, seen = 0, 0, 0
    while sample is None or seen < sample:
        batch = warehouse.read("privacy_token_batch", after=after, batch_size=ROTATION_BATCH)
        if batch.empty:
            break
        for token in batch["id_number_enc"].tolist():
            try:
                newest.decrypt(token.encode())
            except InvalidToken:
                bad += 1
        seen += len(batch)
        after = int(batch["customer_id"].iloc[-1])
    return bad


# ---------------------------------------------------------------- consent


@auth.pii_writer("edit_consent")
@warehouse.retrying
def record_consent(
    user,
    customer_id,
    channel: str,
    status: str,
    source: str,
    recorded_at: datetime | None = None,
    evidence: str | None = None,
) -> dict:
    """Append a consent change for one channel (history is kept; the latest row is in force).

    Segments and audience exports read the view ``consent_current``, so a withdrawal applies
    to the next query after this commits."""
    auth.require(user, "edit_consent")
    cid = _customer_id(customer_id)
    channel = (channel or "").strip().lower()
    status = (status or "").strip().lower()
    source = " ".join((source or "").split())
    if channel not in CHANNELS:
        raise PrivacyError(f"Channel must be one of {', '.join(CHANNELS)}.")
    if status not in CONSENT_STATUSES:
        raise PrivacyError(f"Status must be one of {', '.join(CONSENT_STATUSES)}.")
    if not source or len(source) > 100:
        raise PrivacyError(
            "Say where the consent was captured (1–100 characters), e.g. 'call centre' or 'signup form'."
        )
    evidence = " ".join((evidence or "").split()) or None
    if evidence is not None and len(evidence) > 500:
        raise PrivacyError("The evidence may have at most 500 characters (a reference, not the document).")
    when = recorded_at or datetime.now()
    with warehouse.transaction() as tx:
        customer = tx.one("privacy_customer_exists", customer_id=cid)
        if customer is None:
            raise PrivacyError(f"There is no customer {cid}.")
        if customer["erased_at"] is not None and status == "granted":
            raise PrivacyError(f"Customer {cid} was erased; consent cannot be granted again.")
        current = tx.df("consent_current_for_customer", customer_id=cid)
        before = current.loc[current["channel"] == channel, "status"].tolist()
        tx.run(
            "cns_insert",  # lib/core/sql/stewards_interactions.sql: with the evidence column
            customer_id=cid,
            channel=channel,
            status=status,
            source=source,
            recorded_at=when,
            recorded_by=user.username,
            evidence=evidence,
        )
        after: dict[str, Any] = {"channel": channel, "status": status, "source": source}
        if evidence is not None:
            after["evidence_given"] = True  # the text itself may name people: not in the audit
        audit.record(
            tx,
            user,
            "consent.record",
            "customer",
            cid,
            before={"channel": channel, "status": before[0] if before else None},
            after=after,
        )
    return after | {"customer_id": cid, "recorded_at": when}


@auth.pii_reader("view_customer")
def consent_current(user, customer_id) -> pd.DataFrame:
    """The consent in force per channel for one customer."""
    auth.require(user, "view_customer")
    return warehouse.read("consent_current_for_customer", customer_id=_customer_id(customer_id))


@auth.pii_reader("view_customer")
def consent_history(user, customer_id) -> pd.DataFrame:
    """Every consent change for one customer, newest first."""
    auth.require(user, "view_customer")
    return warehouse.read("consent_history_for_customer", customer_id=_customer_id(customer_id))


def contactable(customer_ids: list[int], channel: str) -> set[int]:
    """Which of these customers may be contacted on the channel right now."""
    if channel not in CHANNELS:
        raise PrivacyError(f"Channel must be one of {', '.join(CHANNELS)}.")
    ids = [int(i) for i in customer_ids]
    if not ids:
        return set()
    frame = warehouse.read("consent_contactable", channel=channel, customer_ids=ids)
    return set(frame["customer_id"].astype(int).tolist())


# ---------------------------------------------------------------- data-subject requests


def _quoted(identifier: str) -> str:
    # Identifiers come from DuckDB's own catalog, and are checked again before quoting.
    if not _IDENT_RE.match(identifier):
        raise PrivacyError(f"Unexpected identifier {identifier!r} in the catalog.")
    return '"' + identifier + '"'


def _subject_tables(tx: warehouse.Tx) -> dict[str, list[str]]:
    cols = tx.df("subject_key_columns")
    tables: dict[str, list[str]] = {}
    for table, column in zip(cols["table_name"].tolist(), cols["column_name"].tolist()):
        if _SUBJECT_KEY_RE.match(column):
            tables.setdefault(table, []).append(column)
    return tables


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(audit.to_json(frame.astype(object).where(frame.notna(), None).to_dict("records")) or "[]")


@auth.pii_reader("export_subject_data")
def export_subject(user, customer_id) -> dict:
    """Everything held about one customer, JSON-ready: their rows in every table keyed by a
    customer id (schema-driven, so later tables are included), quarantined raw rows from the
    same source record, and the audit entries about them. The ID number is decrypted: the
    person is entitled to it. Audited with row counts per table."""
    auth.require(user, "export_subject_data")
    cid = _customer_id(customer_id)
    return _export_subject(user, cid)


@warehouse.retrying
def _export_subject(user, cid: int) -> dict:
    with warehouse.transaction() as tx:
        if tx.one("privacy_customer_exists", customer_id=cid) is None:
            raise PrivacyError(f"There is no customer {cid}.")
        tables: dict[str, list[dict]] = {}
        for table, columns in _subject_tables(tx).items():
            where = " OR ".join(_quoted(c) + " = :cid" for c in columns)
            frame = tx.df(warehouse.raw_sql("SELECT * FROM " + _quoted(table) + " WHERE " + where), cid=cid)
            if table == "customers" and "id_number_enc" in frame.columns:
                frame["id_number"] = [decrypt(v) if isinstance(v, str) else None for v in frame.pop("id_number_enc")]
                frame = frame.drop(columns=[c for c in ("id_number_hash",) if c in frame.columns])
            tables[table] = _records(frame)
        quarantine = []
        for row in tables.get("customers", []):
            quarantine += _records(
                tx.df("subject_quarantine", source=row["source"], source_record_id=row["source_record_id"])
            )
        for entry in quarantine:  # the person is entitled to their ID number in clear
            raw = json.loads(entry["raw"]) if entry.get("raw") else {}
            if isinstance(raw.get("id_number"), dict):
                raw["id_number"] = unseal_id(raw["id_number"])
                entry["raw"] = json.dumps(raw, ensure_ascii=False, sort_keys=True)
        audit_rows = _records(tx.df("subject_audit_entries", entity_id=str(cid)))
        for entry in audit_rows:
            for key in ("before", "after", "detail"):
                entry[key] = json.loads(entry[key]) if entry[key] else None
        counts = {name: len(rows) for name, rows in tables.items()}
        counts |= {"quarantine": len(quarantine), "audit_log": len(audit_rows)}
        audit.record(tx, user, "privacy.export", "customer", cid, detail={"rows": counts})
    return {
        "customer_id": cid,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "generated_by": user.username,
        "tables": tables,
        "quarantine": quarantine,
        "audit_log": audit_rows,
    }


def export_subject_json(user, customer_id) -> str:
    return json.dumps(export_subject(user, customer_id), ensure_ascii=False, indent=2)


# ---------------------------------------------------------------- erasure registry
#
# Every table and column that can hold a person's data, how an erasure finds the person's rows
# there, and the named query (lib/core/sql/admin.sql) that clears them. erase_customer runs exactly
# this list; tests/unit/test_privacy_data.py fails when a migration adds a text or JSON column
# that is neither listed here nor in NOT_PERSONAL (with the reason it holds no one's data), and
# scans every text/JSON column of every table after an erasure for the person's values.


@dataclass(frozen=True)
class PersonalData:
    table: str
    columns: tuple[str, ...]  # columns (JSON paths: all of the value) holding personal data
    found_by: str  # how the person's rows are found
    query: str  # named query that clears them, given :ids (and :placeholder)


PERSON_COLUMNS = (
    "family_name",
    "given_name",
    "full_name",
    "name_pinyin",
    "birth_date",
    "mobile",
    "email",
    "id_number_enc",
    "id_number_hash",
    "id_number_last4",
    "address",
    "postcode",
    "district",
    "company",
    "job_title",
    "uscc",
    "raw_values",
)

ERASURE_REGISTRY: tuple[PersonalData, ...] = (
    PersonalData(
        "customers",
        PERSON_COLUMNS,
        "every record of the person (merge chains followed both ways)",
        "erase_customer_fields",
    ),
    PersonalData(
        "merge_customer_snapshots",
        PERSON_COLUMNS,
        "both records of every merge the person took part in (customer_id)",
        "erase_merge_snapshots",
    ),
    PersonalData(
        "quality_flags",
        ("detail", "reason"),
        "flags of the person's records: detail.raw is the rejected value, reason is a steward's free text",
        "erase_flag_details",
    ),
    PersonalData(
        "quarantine",
        ("raw",),
        "rows quarantined from the person's source records (source, source_record_id)",
        "erase_quarantine_raw",
    ),
    PersonalData("events", ("note",), "consult and complaint notes (customer_id)", "erase_event_notes"),
    PersonalData("interactions", ("note",), "notes of logged calls, visits ... (customer_id)", "ixn_erase_notes"),
    PersonalData("consents", ("evidence",), "where a consent was documented (customer_id)", "cns_erase_evidence"),
    PersonalData(
        "customer_edit_values",
        ("before", "after"),
        "exact values of the person's edits, kept for undo (customer_id)",
        "erase_edit_values",
    ),
    PersonalData(
        "feedback",
        ("comment", "handled_note"),
        "the person's survey comments and the stewards' follow-up notes (customer_id)",
        "erase_feedback_text",
    ),
    PersonalData(
        "quarantine",
        ("raw",),
        "feedback rows quarantined with one of the person's source keys as customer key",
        "erase_feedback_quarantine_raw",
    ),
    PersonalData(
        "search_grams",
        ("gram", "text"),
        "the person's entries in the customer search index (customer_id)",
        "search_index_erase",
    ),
)

# Text and JSON columns that hold no person's data, or keep it only masked, by design:
# table -> (columns, reason); "*" for every column of a table the registry does not list.
_CODES = (
    "source",
    "source_record_id",
    "gender",
    "country",
    "province",
    "city",
    "customer_type",
    "industry",
    "channel",
    "lifecycle_stage",
    "churn_reason",
)
NOT_PERSONAL: dict[str, tuple[tuple[str, ...], str]] = {
    "customers": (_CODES, "source keys and coarse attributes kept for every total"),
    "merge_customer_snapshots": (("role",) + _CODES, "as customers"),
    "quality_flags": (
        ("kind", "rule_id", "field", "severity", "status", "resolved_by"),
        "rule ids, fields, severities, statuses, usernames",
    ),
    "quarantine": (
        ("kind", "source", "source_record_id", "reasons", "status", "resolved_by"),
        "source keys; reasons are field, code and message, never the value",
    ),
    "events": (
        ("event_type", "channel", "category", "source", "source_record_id"),
        "types, channels, categories, source keys",
    ),
    "audit_log": (
        ("*",),
        "append-only record of processing: before/after are written masked "
        "(mask_for_audit), detail holds ids, counts, field names and reasons",
    ),
    "orders": (("*",), "statuses, channels, categories, source keys"),
    "consents": (
        ("channel", "status", "source", "recorded_by"),
        "channel, status, where captured (a form, a store), who recorded it",
    ),
    "interactions": (
        (
            "interaction_type",
            "channel",
            "outcome",
            "owner",
            "follow_up_done_by",
            "source",
            "source_record_id",
            "created_by",
        ),
        "types, channels, outcomes, staff usernames, source keys",
    ),
    "consent_current": (("*",), "view over consents"),
    "tags": (("*",), "marketing labels and who set them"),
    "merges": (("*",), "field choices and ids of moved rows"),
    "dedup_candidates": (("*",), "per-field agreement levels and weights (no values)"),
    "dedup_runs": (("*",), "the trained model's parameters (m/u probabilities)"),
    "dedup_clusters": (("*",), "ids"),
    "demo_ground_truth": (("*",), "kinds of injected defect, no values"),
    "app_users": (("*",), "staff accounts, not customers (lib/admin/users.py administers them)"),
    "app_settings": (("*",), "run-time settings"),
    "imports": (("*",), "file names and hashes, counts"),
    "import_mappings": (("*",), "column mappings"),
    "segments": (("*",), "segment definitions"),
    "churn_models": (("*",), "model metrics and the pickled estimator"),
    "churn_scores": (("*",), "risk tiers and reason codes"),
    "clv_models": (("*",), "model parameters"),
    "customer_rfm": (("*",), "RFM segment names"),
    "customer_preferences": (("*",), "category codes and price levels (as events.category)"),
    "category_similarity": (("*",), "category codes and co-purchase counts over all customers"),
    "quality_results": (("*",), "counts per rule"),
    "quality_runs": (("*",), "who ran the rules"),
    "schema_version": (("*",), "migration names"),
    "warehouse_meta": (("*",), "how the warehouse was built (demo marker)"),
    "app_sessions": (("*",), "staff sessions: token hashes, usernames, client addresses"),
    "login_throttle": (("*",), "failed staff logins per typed username and client"),
    "entry_rules": (("*",), "required fields and default countries per source and kind"),
    "agg_filter_values": (("*",), "dashboard filter values (channels, provinces, ...)"),
    "agg_segs": (("*",), "dashboard segments (channels, provinces, ...)"),
    "alerts": (
        ("*",),
        "alert rules, staff usernames or job names as subjects, counts and thresholds, customer ids "
        "at most; the acknowledging note describes the decision (as reasons do), delivery outcomes",
    ),
    "settings_history": (("*",), "run-time settings before and after a change, and who changed them"),
    "feedback": (
        ("survey", "scale", "channel", "source", "source_record_id", "recorded_by", "handled_by"),
        "survey names, scales, channels, source keys, staff usernames",
    ),
    "job_schedules": (("*",), "scheduled jobs' crontab schedules and the admin who set them"),
    "job_runs": (("*",), "job names, hosts, counts, notes (ids and counts) and error messages of jobs"),
    "job_leases": (("*",), "which process holds a job's lease"),
    "campaigns": (("*",), "campaign names, channels, segment definitions, staff usernames"),
    "campaign_members": (("*",), "customer ids and the control-group flag (no values)"),
    "contact_exports": (
        ("*",),
        "requests for a contact list: staff purpose text, statuses, usernames, the file's SHA-256; "
        "the list itself is generated on download and never stored",
    ),
}


def personal_columns() -> dict[str, set[str]]:
    """table -> the columns ERASURE_REGISTRY clears there."""
    out: dict[str, set[str]] = {}
    for entry in ERASURE_REGISTRY:
        out.setdefault(entry.table, set()).update(entry.columns)
    return out


_ERASABLE = PERSON_COLUMNS


@auth.pii_writer("erase_customer")
def erase_customer(user, customer_id, reason: str) -> dict:
    """Anonymise one person (every record of theirs: merges are followed up to the survivor
    and down to every record merged into it) in every place
    ERASURE_REGISTRY lists: direct identifiers on the records and on merge snapshots, rejected
    raw values in flags, quarantined raw rows, free-text notes, the values kept for undoing
    edits; consent is withdrawn on every channel. The customer row, orders and events stay,
    so every count and total is unchanged. The audit entry names the fields cleared and the
    rows per table, never their values (and the audit log itself holds masked values only)."""
    auth.require(user, "erase_customer")
    reason, cid = _reason(reason), _customer_id(customer_id)
    return _erase(user, cid, reason)


@warehouse.retrying
def _erase(user, cid: int, reason: str) -> dict:
    now = datetime.now()
    with warehouse.transaction() as tx:
        targets = tx.df("erase_targets", customer_id=cid)
        primary = targets[targets["customer_id"] == cid]
        if primary.empty:
            raise PrivacyError(f"There is no customer {cid}.")
        if primary["erased_at"].notna().iloc[0]:
            raise PrivacyError(f"Customer {cid} was already erased.")
        ids = [int(i) for i in targets["customer_id"].tolist()]
        cleared = {
            str(row["customer_id"]): sorted(f for f in _ERASABLE if pd.notna(row[f]))
            for row in targets.to_dict("records")
        }
        counts: dict[str, int] = {}
        for entry in ERASURE_REGISTRY:
            params: dict[str, Any] = {"ids": ids}
            sql = warehouse.query(entry.query)
            if ":placeholder" in sql:
                params["placeholder"] = ERASED_NAME
            if ":now" in sql:
                params["now"] = now
            counts[entry.table] = counts.get(entry.table, 0) + max(int(tx.run(entry.query, **params) or 0), 0)
        notes = counts.get("events", 0)
        for target in ids:
            for channel in CHANNELS:
                tx.run(
                    "consent_insert",
                    customer_id=target,
                    channel=channel,
                    status="withdrawn",
                    source="erasure request",
                    recorded_at=now,
                    recorded_by=user.username,
                )
        result = {"customer_id": cid, "records": ids, "fields_cleared": cleared}
        audit.record(
            tx,
            user,
            "customer.erase",
            "customer",
            cid,
            before={"fields_cleared": cleared},
            after={"erased_at": now, "full_name": ERASED_NAME},
            detail={"reason": reason, "records": ids, "rows_cleared": counts, "event_notes_cleared": notes},
        )
    return result
