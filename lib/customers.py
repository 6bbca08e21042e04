"""Customer search and the Customer 360 reads, masked per role.

Every function checks `view_customer` first. Contacts come back masked unless the user's roles
allow `view_contact_pii` (stewards, admins); the resident ID is always masked. Reading a
profile with contacts *unmasked* is a PII read and is audited (`customer.view`); masked reads
are not, so that the audit log records who saw personal data rather than every page view.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from lib import audit, auth, privacy, settings, validation, warehouse

PAGE_SIZE = 25
TIMELINE_LIMIT = 2000      # newest events drawn on the timeline (heavy customers have thousands)
ORDERS_LIMIT = 500
HISTORY_LIMIT = 200

_DIGITS = re.compile(r"^\d{1,18}$")


class NotFound(LookupError):
    """No customer with that id."""


# ---------------------------------------------------------------- search

@dataclass(frozen=True)
class SearchQuery:
    """How one search box entry is interpreted (several readings may apply at once)."""
    text: str | None = None        # lower-cased, for names, pinyin and companies (partial)
    compact: str | None = None     # text without spaces (pinyin typed as one word)
    customer_id: int | None = None
    mobile: str | None = None      # E.164, exact
    email: str | None = None       # normalised, lower-cased, exact

    @property
    def empty(self) -> bool:
        return not (self.text or self.customer_id is not None or self.mobile or self.email)

    def params(self) -> dict:
        return {"text": self.text, "compact": self.compact, "cid": self.customer_id,
                "mobile": self.mobile, "email": self.email}


def parse_query(raw: str | None) -> SearchQuery:
    """Read a search entry: an id, a mobile, an email, and/or a partial name/company."""
    value = (raw or "").strip()
    if not value:
        return SearchQuery()
    email = mobile = cid = None
    if "@" in value:
        try:
            email = (validation.email(value) or "").lower() or None
        except validation.FieldError:
            email = value.lower()
    else:
        digits = re.sub(r"[\s\-()]", "", value)
        if _DIGITS.match(digits):
            cid = int(digits)
        if re.fullmatch(r"\+?[\d\s\-()]{6,20}", value):
            try:
                mobile = validation.mobile(value)
            except validation.FieldError:
                mobile = None
    text = None if email else value.lower()
    compact = text.replace(" ", "") if text else None
    return SearchQuery(text=text, compact=compact, customer_id=cid, mobile=mobile, email=email)


@dataclass(frozen=True)
class SearchPage:
    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def search(user: auth.User, raw: str | None, page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of live customers matching the entry, contacts masked per role."""
    auth.require(user, "view_customer")
    query = parse_query(raw)
    page_size = max(1, min(int(page_size), 200))
    if query.empty:
        return SearchPage(pd.DataFrame(columns=SEARCH_COLUMNS), 0, 1, page_size)
    total = int(warehouse.scalar("c360_search_count", **query.params()) or 0)
    pages = max(1, math.ceil(total / page_size))
    page = max(1, min(int(page), pages))
    rows = warehouse.read("c360_search", **query.params(), limit=page_size,
                          offset=(page - 1) * page_size)
    return SearchPage(privacy.mask_frame(user, rows), total, page, page_size)


SEARCH_COLUMNS = ["customer_id", "full_name", "company", "mobile", "email", "province", "city",
                  "customer_type", "channel", "lifecycle_stage", "registered_at"]


# ---------------------------------------------------------------- Customer 360

def profile(user: auth.User, customer_id: int) -> dict:
    """The customer's record as this user may see it; raises NotFound."""
    auth.require(user, "view_customer")
    row = warehouse.one("c360_profile", id=int(customer_id))
    if row is None:
        raise NotFound(customer_id)
    raw = _json(row.pop("raw_values"))
    masked = privacy.mask_record(user, row)
    masked["raw_values"] = _mask_raw(user, raw)
    if not privacy.can_see_contacts(user):
        # The street address is as personal as a phone number: same rule.
        masked["address"] = privacy.mask_text(masked.get("address"))
    if privacy.can_see_contacts(user) and (row.get("mobile") or row.get("email") or raw):
        audit.record(None, user, "customer.view", "customer", customer_id,
                     detail={"contacts": "unmasked"})
    return masked


def summary(user: auth.User, customer_id: int) -> dict:
    """Kept orders, net revenue, refunded orders, first and last kept order."""
    auth.require(user, "view_customer")
    return warehouse.one("c360_summary", id=int(customer_id)) or {}


def tags(user: auth.User, customer_id: int) -> pd.DataFrame:
    auth.require(user, "view_customer")
    return warehouse.read("c360_tags", id=int(customer_id))


def consents(user: auth.User, customer_id: int) -> pd.DataFrame:
    """Every consent record, newest first per channel; `current` marks the one in force."""
    auth.require(user, "view_customer")
    return warehouse.read("c360_consents", id=int(customer_id))


def orders(user: auth.User, customer_id: int, limit: int = ORDERS_LIMIT) -> pd.DataFrame:
    auth.require(user, "view_customer")
    return warehouse.read("c360_orders", id=int(customer_id), limit=int(limit))


def events(user: auth.User, customer_id: int, limit: int = TIMELINE_LIMIT) -> pd.DataFrame:
    """Newest events first (the timeline draws them together with the orders)."""
    auth.require(user, "view_customer")
    return warehouse.read("c360_events", id=int(customer_id), limit=int(limit))


def notes(user: auth.User, customer_id: int) -> pd.DataFrame:
    """Complaints and consults with their free-text notes, newest first."""
    auth.require(user, "view_customer")
    return warehouse.read("c360_notes", id=int(customer_id))


def history(user: auth.User, customer_id: int, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """The record's changes from the audit log; personal values inside masked per role."""
    auth.require(user, "view_customer")
    frame = warehouse.read("c360_history", id=str(int(customer_id)), limit=int(limit))
    for col in ("before", "after"):
        frame[col] = frame[col].map(lambda v: _mask_json(user, v))
    return frame


def quality_flags(user: auth.User, customer_id: int) -> list[dict]:
    """Data-quality findings on this record: checks of the stored values, raw input kept from
    imports, and open flags of the stewards' quality run.

    The checks run on the stored (unmasked) values; only masked values leave this function."""
    auth.require(user, "view_customer")
    record = profile_unaudited(customer_id)
    found = _record_checks(record)
    raw = _mask_raw(user, record.get("raw_values"))
    for field, value in (raw.items() if isinstance(raw, dict) else ()):
        found.append({"source": "import", "field": field, "code": "raw_value", "severity": "medium",
                      "detail": value})
    for flag in warehouse.read("c360_open_flags", id=int(customer_id)).to_dict("records"):
        found.append({"source": "quality", "field": flag["field"], "code": flag["rule_id"],
                      "severity": flag["severity"], "detail": _mask_json(user, flag["detail"])})
    return found


def profile_unaudited(customer_id: int) -> dict:
    """Internal: the stored record without masking, for checks that never leave lib/."""
    row = warehouse.one("c360_profile", id=int(customer_id))
    if row is None:
        raise NotFound(customer_id)
    row["raw_values"] = _json(row.pop("raw_values"))
    return row


# ---------------------------------------------------------------- helpers

def _record_checks(record: dict) -> list[dict]:
    """Which stored values are missing or invalid (uses the same validators as imports)."""
    found = []

    def flag(field: str, code: str, severity: str) -> None:
        found.append({"source": "record", "field": field, "code": code, "severity": severity,
                      "detail": None})

    if not record.get("full_name"):
        flag("full_name", "missing", "high")
    if not record.get("mobile") and not record.get("email"):
        flag("mobile", "no_contact", "high")
    for field, check in (("mobile", validation.mobile), ("email", validation.email)):
        value = record.get(field)
        if value:
            try:
                check(value)
            except validation.FieldError:
                flag(field, "invalid", "medium")
    as_of = settings.as_of()
    birth, registered = record.get("birth_date"), record.get("registered_at")
    if birth is not None:
        if birth.year < 1900 or birth > as_of or (
                registered is not None and birth > registered.date()):
            flag("birth_date", "impossible", "medium")
    if record.get("customer_type") == "B2B" and not record.get("company"):
        flag("company", "missing", "medium")
    stale_months = int(settings.get("stale_after_months"))
    touched = max(d for d in (record.get("updated_at"), record.get("verified_at"),
                              datetime(1900, 1, 1)) if d is not None)
    if (as_of.year - touched.year) * 12 + as_of.month - touched.month > stale_months:
        flag("updated_at", "stale", "low")
    return found


def _json(value):
    if value in (None, ""):
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


SENSITIVE_RAW = {"mobile", "email", "phone", "id_number", "address"}


def _mask_raw(user: auth.User, raw):
    """Raw input kept from imports: contact-like values masked unless the role may see them."""
    if not isinstance(raw, dict):
        return raw if raw is None or privacy.can_see_contacts(user) else privacy.mask_text(str(raw))
    if privacy.can_see_contacts(user):
        return raw
    return {k: privacy.mask_text(str(v)) if k in SENSITIVE_RAW and v is not None else v
            for k, v in raw.items()}


def _mask_json(user: auth.User, text):
    """Before/after snapshots in the audit log may hold contacts: mask them like a record."""
    value = _json(text)
    if isinstance(value, dict):
        masked = privacy.mask_record(user, value)
        if "raw_values" in masked:
            masked["raw_values"] = _mask_raw(user, masked["raw_values"])
        return json.dumps(masked, ensure_ascii=False, default=str)
    return text


def display_date(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
