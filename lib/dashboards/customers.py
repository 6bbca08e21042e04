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
from decimal import Decimal

import pandas as pd

from lib.security import audit, auth, privacy, search_index
from lib.core import errors, normalize, settings, validation, warehouse

PAGE_SIZE = 25
TIMELINE_LIMIT = 2000  # newest events drawn on the timeline (heavy customers have thousands)
ORDERS_LIMIT = 500
HISTORY_LIMIT = 200

_DIGITS = re.compile(r"^\d{1,18}$")


class NotFound(errors.NotFoundError):
    """No customer with that id."""


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchQuery:
    """How one search box entry is interpreted (several readings may apply at once)."""

    text: str | None = None  # entry with Chinese characters, as typed: name or company
    latin: str | None = None  # latin entry, lower-cased: pinyin, latin name or company
    customer_id: int | None = None
    mobile: str | None = None  # E.164, exact
    email: str | None = None  # normalised, lower-cased, exact

    @property
    def empty(self) -> bool:
        return not (self.text or self.latin or self.customer_id is not None or self.mobile or self.email)

    def readings(self) -> list[str]:
        """Which readings of the entry apply (recorded with a download of the results)."""
        values = {"text": self.text, "latin": self.latin, **self.params()}
        return sorted(k for k, v in values.items() if v is not None)

    def params(self) -> dict:
        """The exact readings, as parameters of c360_search."""
        return {
            "cid": self.customer_id,
            "mobile": self.mobile,
            "email": self.email,
        }


_PHONE_LIKE = re.compile(r"\+?[\d\s\-()]{1,20}")


def parse_query(raw: str | None) -> SearchQuery:
    """Read a search entry: an id, a mobile, an email, or part of a name/company.

    Digits are an id or a full mobile, never part of a name; an entry with Chinese characters
    is matched as typed against names and companies; any other text, lower-cased, against the
    pinyin (syllables, initials or run together), latin names and companies."""
    value = " ".join((raw or "").split())
    if not value:
        return SearchQuery()
    if "@" in value:
        try:
            email = (validation.email(value) or "").lower() or None
        except validation.FieldError:
            email = value.lower()
        return SearchQuery(email=email)
    if _PHONE_LIKE.fullmatch(value):
        digits = re.sub(r"[\s\-()]", "", value)
        cid = int(digits) if _DIGITS.match(digits) else None
        try:
            mobile = validation.mobile(value) if len(digits.lstrip("+")) >= 6 else None
        except validation.FieldError:
            mobile = None
        return SearchQuery(customer_id=cid, mobile=mobile)
    if normalize.has_cjk(value):
        return SearchQuery(text=value)
    return SearchQuery(latin=value.lower())


@dataclass(frozen=True)
class SearchPage:
    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@auth.pii_reader("view_customer")
def search(user: auth.User, raw: str | None, page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of live customers matching the entry, contacts masked per role."""
    auth.require(user, "view_customer")
    query = parse_query(raw)
    page_size = max(1, min(int(page_size), 200))
    if query.empty:
        return SearchPage(pd.DataFrame(columns=SEARCH_COLUMNS), 0, 1, page_size)
    page = max(1, int(page))

    def fetch(number: int) -> pd.DataFrame:
        offset = (number - 1) * page_size
        needle = query.text or query.latin
        if needle:  # a name, pinyin or company: through the search index
            needle = needle.lower().replace(chr(1), "")
            grams = search_index.grams(needle) or [""]
            return warehouse.read("search_match_page", needle=needle, grams=grams, limit=page_size, offset=offset)
        return warehouse.read("c360_search", **query.params(), limit=page_size, offset=offset)

    rows = fetch(page)
    if rows.empty and page > 1:  # past the end (the matches changed): the last page
        first = fetch(1)
        page = max(1, math.ceil((int(first["total"].iloc[0]) if len(first) else 0) / page_size))
        rows = first if page == 1 else fetch(page)
    total = int(rows["total"].iloc[0]) if len(rows) else 0
    return SearchPage(privacy.mask_frame(user, rows.drop(columns=["total"])), total, page, page_size)


SEARCH_COLUMNS = [
    "customer_id",
    "full_name",
    "company",
    "mobile",
    "email",
    "province",
    "city",
    "customer_type",
    "channel",
    "lifecycle_stage",
    "registered_at",
]


# ---------------------------------------------------------------- Customer 360

# c360_details returns generic columns; these name them per kind of row (and order them).
DETAIL_COLUMNS = {
    "tag": {"s1": "tag", "s2": "created_by", "time": "created_at"},
    "consent": {
        "s1": "channel",
        "s2": "status",
        "s3": "source",
        "time": "recorded_at",
        "s4": "recorded_by",
        "flag": "current",
        "id": "consent_id",
    },
    "flag": {
        "id": "flag_id",
        "s1": "rule_id",
        "s2": "field",
        "s3": "severity",
        "s4": "detail",
        "time": "created_at",
        "i1": "severity_rank",
    },
    "history": {"time": "occurred_at", "s1": "username", "s2": "action", "s3": "before", "s4": "after", "s5": "detail"},
    "order": {
        "id": "order_id",
        "time": "order_time",
        "s1": "status",
        "n1": "amount",
        "n2": "refund_amount",
        "s2": "channel",
        "s3": "category",
        "i1": "item_count",
        "s4": "source",
    },
    "event": {
        "time": "event_time",
        "s1": "event_type",
        "s2": "channel",
        "s3": "category",
        "n1": "amount",
        "id": "order_id",
        "s4": "note",
        "flag": "on_timeline",
    },
}
# Every order row also carries the summary of all the customer's orders (window aggregates).
ORDER_SUMMARY_COLUMNS = {
    "i2": "kept_orders",
    "n3": "net_revenue",
    "i3": "refunded_orders",
    "t2": "first_order",
    "t3": "last_order",
}
NO_ORDERS = {"kept_orders": 0, "net_revenue": Decimal(0), "refunded_orders": 0, "first_order": None, "last_order": None}
NOTE_TYPES = ("complaint", "consult")


@dataclass(frozen=True)
class Customer360:
    """One customer as this user may see it (contacts masked per role), newest first."""

    profile: dict
    summary: dict  # ORDER_SUMMARY_COLUMNS' names, over all orders
    tags: list[str]  # alphabetical
    consents: pd.DataFrame  # `current` marks the record in force per channel
    quality_flags: list[dict]  # source, field, code, severity, detail
    orders: pd.DataFrame
    events: pd.DataFrame  # the timeline's events (at most TIMELINE_LIMIT)
    notes: pd.DataFrame  # every complaint and consult with its note
    history: pd.DataFrame  # the record's changes from the audit log


@auth.pii_reader("view_customer")
def customer_360(
    user: auth.User,
    customer_id: int,
    *,
    orders_limit: int = ORDERS_LIMIT,
    events_limit: int = TIMELINE_LIMIT,
    history_limit: int = HISTORY_LIMIT,
) -> Customer360:
    """Everything the Customer 360 page shows, in two queries; raises NotFound.

    Reading contacts unmasked (stewards, admins) is a PII read and is audited."""
    auth.require(user, "view_customer")
    with warehouse.snapshot():  # one consistent state; one catalog lookup per table on a lake
        row = warehouse.one("c360_profile", id=int(customer_id))
        if row is None:
            raise NotFound(customer_id)
        details = warehouse.records(
            "c360_details",
            id=int(customer_id),
            history_limit=int(history_limit),
            orders_limit=int(orders_limit),
            events_limit=int(events_limit),
        )
        checks = settings.get_many("data_as_of", "stale_after_months")
    row["raw_values"] = _json(row["raw_values"])
    parts: dict[str, list[dict]] = {kind: [] for kind in DETAIL_COLUMNS}
    for detail in details:
        names = DETAIL_COLUMNS[detail["kind"]]
        parts[detail["kind"]].append({name: detail[col] for col, name in names.items()})
    summary = next(
        (
            {name: detail[col] for col, name in ORDER_SUMMARY_COLUMNS.items()}
            for detail in details
            if detail["kind"] == "order"
        ),
        dict(NO_ORDERS),
    )
    parts["consent"].sort(key=lambda r: (r["channel"], -r["recorded_at"].timestamp(), -r["consent_id"]))
    for i, consent in enumerate(parts["consent"]):  # the newest record per channel is in force
        consent["current"] = i == 0 or parts["consent"][i - 1]["channel"] != consent["channel"]
    parts["flag"].sort(key=lambda r: (r["severity_rank"], r["created_at"], r["flag_id"]))
    for kind, key in (("history", "occurred_at"), ("order", "order_time"), ("event", "event_time")):
        parts[kind].sort(key=lambda r: r[key], reverse=True)
    for change in parts["history"]:
        for key in ("before", "after", "detail"):
            change[key] = privacy.mask_value(user, change[key])
    events = [e for e in parts["event"] if e["on_timeline"]]
    notes = [e for e in parts["event"] if e["event_type"] in NOTE_TYPES]
    return Customer360(
        profile=_masked_profile(user, row, customer_id),
        summary=summary,
        tags=sorted(tag["tag"] for tag in parts["tag"]),
        consents=_frame(parts["consent"], "consent", drop=("consent_id",)),
        quality_flags=_quality_flags(user, row, parts["flag"], checks),
        orders=_frame(parts["order"], "order"),
        events=_frame(events, "event", drop=("note", "on_timeline")),
        notes=privacy.mask_frame(user, _frame(notes, "event", drop=("category", "amount", "order_id", "on_timeline"))),
        history=_frame(parts["history"], "history"),
    )


def _frame(records: list[dict], kind: str, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """One of the page's tables (a few hundred rows at most), as the values DuckDB returned.

    Object columns on purpose: pandas' per-column type inference took 2.4 ms for the page's
    five tables, more than any query (measured at 1M customers; docs/benchmarks.md). Streamlit
    and plotly infer the types when they draw the values, CSVs come out the same, amounts
    stay exact Decimals and ids with gaps stay integers (not 1234.0)."""
    columns = [c for c in DETAIL_COLUMNS[kind].values() if c not in drop and c != "severity_rank"]
    return pd.DataFrame([[record[c] for c in columns] for record in records], columns=columns, dtype=object)


@auth.pii_reader("view_customer")
def profile(user: auth.User, customer_id: int) -> dict:
    """The customer's record as this user may see it; raises NotFound."""
    auth.require(user, "view_customer")
    row = warehouse.one("c360_profile", id=int(customer_id))
    if row is None:
        raise NotFound(customer_id)
    row["raw_values"] = _json(row["raw_values"])
    return _masked_profile(user, row, customer_id)


def _masked_profile(user: auth.User, row: dict, customer_id: int) -> dict:
    """Mask a stored record for the user; audit the read when contacts leave unmasked."""
    raw = row.get("raw_values")
    # One masking for every reader: contacts and the street address per role, the ID always
    # masked, raw import values masked inside (lib.security.privacy.mask_record).
    masked = privacy.mask_record(user, row)
    if privacy.can_see_contacts(user) and (row.get("mobile") or row.get("email") or raw):
        audit.record(None, user, "customer.view", "customer", customer_id, detail={"contacts": "unmasked"})
    return masked


def _quality_flags(user: auth.User, record: dict, open_flags: list[dict], settings_now: dict) -> list[dict]:
    """Data-quality findings on one record: checks of the stored values, raw input kept from
    imports, and open flags of the stewards' quality run.

    The checks run on the stored (unmasked) values; only masked values leave this module."""
    found = _record_checks(record, settings_now)
    raw = record.get("raw_values")
    for field, value in raw.items() if isinstance(raw, dict) else ():
        found.append(
            {
                "source": "import",
                "field": field,
                "code": "raw_value",
                "severity": "medium",
                "detail": privacy.mask_value(user, value, field),
            }
        )
    for flag in open_flags:
        found.append(
            {
                "source": "quality",
                "field": flag["field"],
                "code": flag["rule_id"],
                "severity": flag["severity"],
                "detail": privacy.mask_value(user, flag["detail"], flag["field"]),
            }
        )
    return found


# ---------------------------------------------------------------- helpers


def _record_checks(record: dict, settings_now: dict) -> list[dict]:
    """Which stored values are missing or invalid (uses the same validators as imports)."""
    found = []

    def flag(field: str, code: str, severity: str) -> None:
        found.append({"source": "record", "field": field, "code": code, "severity": severity, "detail": None})

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
    as_of = settings.as_of(settings_now["data_as_of"] or "")
    birth, registered = record.get("birth_date"), record.get("registered_at")
    if birth is not None:
        if birth.year < 1900 or birth > as_of or (registered is not None and birth > registered.date()):
            flag("birth_date", "impossible", "medium")
    if record.get("customer_type") == "B2B" and not record.get("company"):
        flag("company", "missing", "medium")
    stale_months = int(settings_now["stale_after_months"])
    touched = max(
        d for d in (record.get("updated_at"), record.get("verified_at"), datetime(1900, 1, 1)) if d is not None
    )
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


def registration_label(profile: dict, t) -> str:
    """The registration date as the 360 page shows it: said to be inferred when it was taken
    from the first order or event (lib/stewardship/registration.py), "unknown" when there is none yet."""
    registered = profile.get("registered_at")
    if registered is None or (isinstance(registered, float) and math.isnan(registered)):
        return t("dash.c360.registered_unknown")
    if profile.get("registered_inferred"):
        return t("dash.c360.registered_inferred", date=display_date(registered))
    return display_date(registered)


def display_date(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
