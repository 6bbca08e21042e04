"""Entry rules stewards own: which fields a row must have, per source and kind, and what a
missing one does; the source's default country.

    rules = entry_rules.in_force("crm", "customers")     # what an import of crm customers uses
    rules.required        # {"source_record_id": "quarantine", "full_name": "quarantine", "contact": "flag"}
    rules.country         # "AU": phones and postcodes of rows without a country are read as Australian
    entry_rules.save(user, "crm", "customers", {...}, country="AU", note="...", expected_version=2)

A required field is either

* ``quarantine`` - a row without it is kept out of the warehouse until a steward fixes it, or
* ``flag`` - the row loads and gets a quality flag (kind ``import``) naming the missing field.

``contact`` stands for "a valid mobile or email"; flagged rows are *not contactable*: they load
and stay out of every audience (audiences need a valid contact). Rules are stored per source
(``'*'`` is the rule set for every source without its own), versioned (a save appends a version,
the newest is in force), audited (``entry_rules.save`` with before and after) and written only by
roles allowed to import. The import page, ``python -m lib.cli import`` (``--country``, and
``entry-rules show``), the quarantine release and the customer fix form all read `in_force`.

Without any stored rule the built-in default applies: a customer row with an id and a name
loads; a missing contact is a flag, not a quarantine. Orders and events keep the fields they
cannot load without (their keys, time and amount); stewards may require more of them, which
quarantines (orders and events have no quality flags).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from lib.security import audit, auth
from lib.core import errors, normalize, validation, warehouse

ACTIONS = ("quarantine", "flag")
ALL_SOURCES = "*"
KINDS = ("customers", "orders", "events")

# Fields a rule may name, per kind ("contact" = a valid mobile or email).
FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "source_record_id",
        "full_name",
        "contact",
        "mobile",
        "email",
        "birth_date",
        "gender",
        "id_number",
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
    ),
    "orders": (
        "source_record_id",
        "customer_key",
        "order_time",
        "amount",
        "status",
        "refund_amount",
        "channel",
        "category",
        "item_count",
    ),
    "events": (
        "customer_key",
        "event_type",
        "event_time",
        "source_record_id",
        "channel",
        "category",
        "amount",
        "order_key",
        "note",
    ),
}
# Fields without which a row cannot be stored at all: always required, always quarantine.
LOCKED = validation.ALWAYS_REQUIRED
DEFAULT_REQUIRED = validation.DEFAULT_REQUIRED


class EntryRuleError(errors.ValidationError):
    """A rule set that cannot be saved, with a message for people."""


class EntryRuleConflict(EntryRuleError, errors.ConflictError):
    """Someone saved the rules since they were read."""


@dataclass(frozen=True)
class Rules:
    source: str
    kind: str
    required: dict[str, str]
    country: str | None = None
    version: int = 0  # 0: the built-in default, never saved
    origin: str = "built-in"  # "source", "default" (the '*' rules) or "built-in"
    note: str | None = None
    saved_by: str | None = None
    saved_at: datetime | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "kind": self.kind,
            "origin": self.origin,
            "version": self.version,
            "required": dict(self.required),
            "default_country": self.country,
            "note": self.note,
            "saved_by": self.saved_by,
            "saved_at": None if self.saved_at is None else str(self.saved_at),
        }

    def describe(self, lang: str | None = None) -> list[str]:
        """One line per required field: 'Name: quarantine', for the CLI and the page."""
        from lib.core.i18n import country_name, t

        lines = [
            f"{validation.field_label(f, lang)} ({f}): {t(f'stewards.er.action.{a}', lang)}"
            for f, a in self.required.items()
        ]
        code = self.country or "CN"
        lines.append(f"{t('stewards.er.country', lang)}: {country_name(code, lang)} ({code})")
        return lines


def _from_row(row: dict, source: str, origin: str) -> Rules:
    return Rules(
        source=source,
        kind=row["kind"],
        required=json.loads(row["required"]),
        country=row["default_country"] or None,
        version=int(row["version"]),
        origin=origin,
        note=row["note"],
        saved_by=row["saved_by"],
        saved_at=row["saved_at"],
    )


def _stored(source: str, kind: str) -> dict | None:
    return warehouse.one("stw_entry_rules_latest", source=source, kind=kind)


def in_force(source: str | None, kind: str) -> Rules:
    """The rules an import of `kind` from `source` uses: the source's own, else the '*' rules,
    else the built-in default."""
    if kind not in KINDS and kind in DEFAULT_REQUIRED:
        # kinds without rules of their own (feedback): the built-in required fields
        return Rules(source=normalize.text(source) or ALL_SOURCES, kind=kind, required=dict(DEFAULT_REQUIRED[kind]))
    if kind not in KINDS:
        raise EntryRuleError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    source = normalize.text(source) or ALL_SOURCES
    own = _stored(source, kind)
    if own is not None:
        return _from_row(own, source, "source" if source != ALL_SOURCES else "default")
    if source != ALL_SOURCES:
        default = _stored(ALL_SOURCES, kind)
        if default is not None:
            return _from_row(default, source, "default")
    return Rules(source=source, kind=kind, required=dict(DEFAULT_REQUIRED[kind]))


def stored_version(source: str, kind: str) -> int:
    """The newest saved version of exactly this source's rules (0: never saved)."""
    row = _stored(normalize.text(source) or ALL_SOURCES, kind)
    return int(row["version"]) if row else 0


def history(source: str, kind: str) -> pd.DataFrame:
    """Every saved version of one source's rules, newest first."""
    return warehouse.read("stw_entry_rules_history", source=normalize.text(source) or ALL_SOURCES, kind=kind)


def sources() -> list[str]:
    """Sources seen in imports, customers or rules ('*' not included)."""
    return warehouse.read("stw_entry_rules_sources")["source"].tolist()


def check(kind: str, required: dict, country: str | None) -> tuple[dict[str, str], str | None]:
    """A rule set as it will be stored, or EntryRuleError saying what is wrong with it."""
    if kind not in KINDS:
        raise EntryRuleError(f"Unknown kind {kind!r}: use one of {', '.join(KINDS)}.")
    if not isinstance(required, dict):
        raise EntryRuleError("Required fields are a mapping {field: 'quarantine' | 'flag'}.")
    clean: dict[str, str] = {}
    for name, action in required.items():
        if name not in FIELDS[kind]:
            raise EntryRuleError(f"{name!r} is not a {kind} field; use one of: {', '.join(FIELDS[kind])}.")
        if action not in ACTIONS:
            raise EntryRuleError(f"{name}: a missing value must 'quarantine' the row or 'flag' it, not {action!r}.")
        if action == "flag" and kind != "customers":
            raise EntryRuleError(
                f"{name}: {kind} have no quality flags, so a required {kind} field can only quarantine the row."
            )
        clean[name] = action
    for name in LOCKED[kind]:
        if clean.get(name, "quarantine") != "quarantine":
            raise EntryRuleError(
                f"{name} identifies the row: it is always required and a row without it always goes to the quarantine."
            )
        clean[name] = "quarantine"
    ordered = {n: clean[n] for n in FIELDS[kind] if n in clean}
    code = None
    if country not in (None, ""):
        try:
            code = validation.country(country)
        except validation.FieldError:
            raise EntryRuleError(f"{country!r} is not a country: give an ISO code such as AU, GB, US or CN.") from None
    return ordered, code


@warehouse.retrying
def save(
    user: auth.User,
    source: str,
    kind: str,
    required: dict,
    *,
    country: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
) -> Rules:
    """Store a new version of one source's rules (validated, role-checked, audited)."""
    auth.require(user, "import_data")
    source = normalize.text(source) or ""
    if source != ALL_SOURCES and not _valid_source(source):
        raise EntryRuleError(
            "The source name must be 1-40 letters, digits, '_', '-' or '.' "
            "('*' for every source without rules of its own)."
        )
    clean, code = check(kind, required, country)
    note = normalize.text(note)
    with warehouse.transaction() as tx:
        before = tx.one("stw_entry_rules_latest", source=source, kind=kind)
        current = int(before["version"]) if before else 0
        if expected_version is not None and int(expected_version) != current:
            raise EntryRuleConflict(
                f"The {kind} rules of {source} were changed by "
                f"{before['saved_by'] if before else 'someone'} since you "
                "opened them: reload and apply your change again."
            )
        tx.run(
            "stw_entry_rules_insert",
            source=source,
            kind=kind,
            version=current + 1,
            required=json.dumps(clean),
            default_country=code,
            note=note,
            saved_by=user.username,
        )
        audit.record(
            tx,
            user,
            "entry_rules.save",
            "entry_rules",
            f"{source}/{kind}",
            before=None
            if before is None
            else {
                "version": current,
                "required": json.loads(before["required"]),
                "default_country": before["default_country"],
            },
            after={"version": current + 1, "required": clean, "default_country": code},
            detail={"note": note} if note else None,
        )
    return in_force(source, kind)


def _valid_source(source: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", source))


def defaults_for(source: str | None, kind: str, country: str | None = None) -> dict:
    """What validation.check_frame takes from the rules: required fields and the country
    (an explicit `country`, e.g. the CLI's --country, wins over the source's default)."""
    rules = in_force(source, kind)
    code = validation.country(country) if country else rules.country
    return {"required": dict(rules.required), "country": code or "CN"}
