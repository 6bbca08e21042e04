"""Segment builder: conditions on whitelisted fields, AND/OR groups, compiled to bound SQL.

A definition is a tree of plain data (stored as JSON on saved segments)::

    {"op": "and", "conditions": [
        {"field": "rfm_segment", "operator": "in", "value": ["At Risk", "Can't Lose Them"]},
        {"op": "or", "conditions": [
            {"field": "total_spend", "operator": "gte", "value": 5000},
            {"field": "tags", "operator": "has_any", "value": ["vip"]}]}]}

``validate`` checks every field against FIELDS, every operator against the operators of the
field's kind, and every value's type and size; anything else raises SegmentError. ``compile``
then builds the WHERE fragment only from those whitelisted column names and operator
templates; each value becomes a bound parameter (``:s0``, ``:s1`` ...). User text never
reaches SQL as text.

Saved segments carry an owner, a version (optimistic concurrency) and timestamps; only the
owner or an admin may rename, edit or delete one; anyone allowed to manage segments may
duplicate it. Every write is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from lib.security import audit, auth, privacy
from lib.core import settings, warehouse, errors
from lib.marketing.lifecycle import STAGES
from lib.marketing.preferences import PRICE_LEVELS, categories as preference_categories
from lib.marketing.queries import compose
from lib.marketing.rfm import SEGMENTS as RFM_SEGMENTS


class SegmentError(errors.ValidationError):
    """A segment definition or name that cannot be accepted (message meant for people)."""


class StaleSegmentError(errors.ConflictError, warehouse.WarehouseError):
    """Someone else changed or deleted the segment since it was loaded."""


NPS_CATEGORIES = ("promoter", "passive", "detractor", "no_response")
MAX_DEPTH = 4  # nesting levels of groups, the root included
MAX_CONDITIONS = 40
MAX_LIST = 500
MAX_TEXT = 200

# Operator templates per kind. {col} is a whitelisted column of segment_base, {p} a parameter
# name generated here. NULL handling: "neq"/"not_in" include customers whose value is unknown.
OPERATORS: dict[str, dict[str, str]] = {
    "enum": {
        "eq": "base.{col} = :{p}",
        "neq": "base.{col} IS DISTINCT FROM :{p}",
        "in": "coalesce(list_contains(CAST(:{p} AS VARCHAR[]), base.{col}), false)",
        "not_in": "NOT coalesce(list_contains(CAST(:{p} AS VARCHAR[]), base.{col}), false)",
        "is_null": "base.{col} IS NULL",
        "not_null": "base.{col} IS NOT NULL",
    },
    "text": {
        "eq": "base.{col} = :{p}",
        "neq": "base.{col} IS DISTINCT FROM :{p}",
        "in": "coalesce(list_contains(CAST(:{p} AS VARCHAR[]), base.{col}), false)",
        "not_in": "NOT coalesce(list_contains(CAST(:{p} AS VARCHAR[]), base.{col}), false)",
        "contains": "coalesce(contains(lower(base.{col}), lower(:{p})), false)",
        "starts_with": "coalesce(starts_with(base.{col}, :{p}), false)",
        "is_null": "base.{col} IS NULL",
        "not_null": "base.{col} IS NOT NULL",
    },
    "number": {
        "eq": "base.{col} = :{p}",
        "neq": "base.{col} IS DISTINCT FROM :{p}",
        "lt": "base.{col} < :{p}",
        "lte": "base.{col} <= :{p}",
        "gt": "base.{col} > :{p}",
        "gte": "base.{col} >= :{p}",
        "between": "base.{col} BETWEEN :{p}_lo AND :{p}_hi",
        "is_null": "base.{col} IS NULL",
        "not_null": "base.{col} IS NOT NULL",
    },
    "date": {
        "before": "base.{col} < CAST(:{p} AS DATE)",
        "on_or_after": "base.{col} >= CAST(:{p} AS DATE)",
        "between": "base.{col} BETWEEN CAST(:{p}_lo AS DATE) AND CAST(:{p}_hi AS DATE)",
        "within_days": "base.{col} > CAST(:as_of AS DATE) - to_days(CAST(:{p} AS INTEGER))",
        "not_within_days": "coalesce(base.{col} <= CAST(:as_of AS DATE) - to_days(CAST(:{p} AS INTEGER)), true)",
        "is_null": "base.{col} IS NULL",
        "not_null": "base.{col} IS NOT NULL",
    },
    "bool": {
        "is_true": "base.{col}",
        "is_false": "NOT base.{col}",
    },
    "tags": {
        "has_any": "EXISTS (SELECT 1 FROM tags t WHERE t.customer_id = base.customer_id"
        " AND list_contains(CAST(:{p} AS VARCHAR[]), t.tag))",
        "has_all": "(SELECT count(DISTINCT t.tag) FROM tags t WHERE t.customer_id = base.customer_id"
        " AND list_contains(CAST(:{p} AS VARCHAR[]), t.tag)) = :{p}_n",
        "has_none": "NOT EXISTS (SELECT 1 FROM tags t WHERE t.customer_id = base.customer_id"
        " AND list_contains(CAST(:{p} AS VARCHAR[]), t.tag))",
    },
    # a list column of segment_base (categories bought, browsed but not bought); no list = empty
    "list": {
        "has_any": "coalesce(list_has_any(base.{col}, CAST(:{p} AS VARCHAR[])), false)",
        "has_all": "coalesce(list_has_all(base.{col}, CAST(:{p} AS VARCHAR[])), false)",
        "has_none": "NOT coalesce(list_has_any(base.{col}, CAST(:{p} AS VARCHAR[])), false)",
    },
}
NO_VALUE = {"is_null", "not_null", "is_true", "is_false"}
LIST_OPS = {"in", "not_in", "has_any", "has_all", "has_none"}


@dataclass(frozen=True)
class Field:
    key: str  # column of segment_base and i18n key marketing.field.<key>
    kind: str  # enum | text | number | date | bool | tags
    group: str  # i18n key marketing.fieldgroup.<group>
    choices: tuple[str, ...] = ()  # fixed values of enum fields
    picklist: bool = False  # offer the data's distinct values (text fields)


FIELDS: dict[str, Field] = {
    f.key: f
    for f in (
        Field("gender", "enum", "demographics", ("M", "F", "U")),
        Field("age", "number", "demographics"),
        Field("province", "text", "location", picklist=True),
        Field("city", "text", "location", picklist=True),
        Field("channel", "text", "profile", picklist=True),
        Field("customer_type", "enum", "profile", ("B2C", "B2B")),
        Field("industry", "text", "profile", picklist=True),
        Field("registered_at", "date", "profile"),
        Field("rfm_segment", "enum", "value", RFM_SEGMENTS),
        Field("r_score", "number", "value"),
        Field("f_score", "number", "value"),
        Field("m_score", "number", "value"),
        Field("total_spend", "number", "value"),
        Field("order_count", "number", "value"),
        Field("last_purchase", "date", "value"),
        Field("days_since_purchase", "number", "value"),
        Field("clv", "number", "value"),
        Field("p_alive", "number", "value"),
        Field("lifecycle_stage", "enum", "lifecycle", STAGES),
        Field("churn_risk", "enum", "lifecycle", ("high", "medium", "low")),
        Field("churn_probability", "number", "lifecycle"),
        Field("tags", "tags", "tags"),
        Field("consent_sms", "bool", "consent"),
        Field("consent_email", "bool", "consent"),
        Field("consent_phone", "bool", "consent"),
        Field("has_valid_mobile", "bool", "consent"),
        Field("has_valid_email", "bool", "consent"),
        # category preferences (lib/marketing/preferences.py) and birthdays
        Field("favourite_category", "enum", "preferences", picklist=True),
        Field("categories_bought", "list", "preferences", picklist=True),
        Field("browsed_not_bought", "list", "preferences", picklist=True),
        Field("price_level", "enum", "preferences", PRICE_LEVELS),
        Field("next_category", "enum", "preferences", picklist=True),
        Field("birth_month", "number", "demographics"),
        Field("days_to_birthday", "number", "demographics"),
        # feedback (docs/metrics.md "Feedback"): latest NPS response's category, latest CSAT score
        Field("nps_category", "enum", "feedback", NPS_CATEGORIES),
        Field("last_csat", "number", "feedback"),
    )
}
CATEGORY_FIELDS = ("favourite_category", "categories_bought", "browsed_not_bought", "next_category")


def operators_for(field_key: str) -> list[str]:
    return list(OPERATORS[FIELDS[field_key].kind])


# ---------------------------------------------------------------- validation


def empty() -> dict:
    return {"op": "and", "conditions": []}


def validate(definition: Any) -> dict:
    """A clean copy of the definition, or SegmentError saying what is wrong."""
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise SegmentError(f"The segment definition is not valid JSON: {exc.msg}") from None
    counter = [0]
    clean = _validate_group(definition, 1, counter)
    return clean


def _validate_group(node: Any, depth: int, counter: list[int]) -> dict:
    if not isinstance(node, dict) or set(node) - {"op", "conditions"}:
        raise SegmentError("A group needs exactly 'op' and 'conditions'.")
    op = node.get("op")
    if op not in ("and", "or"):
        raise SegmentError(f"Unknown group operator {op!r}: use 'and' or 'or'.")
    if depth > MAX_DEPTH:
        raise SegmentError(f"Groups may be nested at most {MAX_DEPTH} levels deep.")
    items = node.get("conditions")
    if not isinstance(items, list):
        raise SegmentError("'conditions' must be a list.")
    out = []
    for item in items:
        if isinstance(item, dict) and "op" in item:
            out.append(_validate_group(item, depth + 1, counter))
        else:
            counter[0] += 1
            if counter[0] > MAX_CONDITIONS:
                raise SegmentError(f"A segment may have at most {MAX_CONDITIONS} conditions.")
            out.append(_validate_condition(item))
    return {"op": op, "conditions": out}


def _validate_condition(node: Any) -> dict:
    if not isinstance(node, dict) or set(node) - {"field", "operator", "value"}:
        raise SegmentError("A condition needs 'field', 'operator' and 'value'.")
    key, op = node.get("field"), node.get("operator")
    if not isinstance(key, str) or key not in FIELDS:
        raise SegmentError(f"Unknown field {str(key)[:60]!r}.")
    fld = FIELDS[key]
    if not isinstance(op, str) or op not in OPERATORS[fld.kind]:
        raise SegmentError(f"Operator {str(op)[:30]!r} is not allowed on {key}.")
    value = node.get("value")
    if op in NO_VALUE:
        return {"field": key, "operator": op, "value": None}
    return {"field": key, "operator": op, "value": _clean_value(fld, op, value)}


def _scalar(fld: Field, value: Any) -> Any:
    if fld.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = float(str(value))
            except ValueError:
                raise SegmentError(f"{fld.key} needs a number.") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SegmentError(f"{fld.key} needs a finite number.")
        return value
    if fld.kind == "date":
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise SegmentError(f"{fld.key} needs a date (YYYY-MM-DD).") from None
    if not isinstance(value, str) or not value.strip():
        raise SegmentError(f"{fld.key} needs a text value.")
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise SegmentError(f"{fld.key}: values may be at most {MAX_TEXT} characters.")
    if fld.choices and value not in fld.choices:
        raise SegmentError(f"{value[:40]!r} is not a value of {fld.key}.")
    return value


def _clean_value(fld: Field, op: str, value: Any) -> Any:
    if op in LIST_OPS:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not value:
            raise SegmentError(f"{fld.key} {op} needs a non-empty list of values.")
        if len(value) > MAX_LIST:
            raise SegmentError(f"At most {MAX_LIST} values per condition.")
        text_field = Field(fld.key, "text", fld.group, fld.choices)
        return sorted({_scalar(text_field, v) for v in value})
    if op == "between":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise SegmentError(f"{fld.key} between needs two values.")
        lo, hi = (_scalar(fld, v) for v in value)
        if lo > hi:
            lo, hi = hi, lo
        return [lo, hi]
    if op in ("within_days", "not_within_days"):
        days = _scalar(Field(fld.key, "number", fld.group), value)
        if days != int(days) or not 0 <= days <= 36500:
            raise SegmentError(f"{fld.key}: the number of days must be a whole number 0..36500.")
        return int(days)
    return _scalar(fld, value)


# ---------------------------------------------------------------- compilation


@dataclass
class Compiled:
    sql: str  # a boolean expression over segment_base AS base
    params: dict[str, Any] = field(default_factory=dict)


def compile(definition: Any, prefix: str = "s") -> Compiled:  # noqa: A001 - the builder's verb
    """Validate and compile a definition to a WHERE fragment with bound parameters."""
    clean = validate(definition)
    params: dict[str, Any] = {}
    sql = _compile_group(clean, params, prefix, [0])
    return Compiled(sql, params)


def _compile_group(node: dict, params: dict, prefix: str, counter: list[int]) -> str:
    parts = []
    for item in node["conditions"]:
        if "op" in item:
            parts.append(_compile_group(item, params, prefix, counter))
        else:
            parts.append(_compile_condition(item, params, prefix, counter))
    if not parts:
        return "TRUE" if node["op"] == "and" else "FALSE"
    joiner = " AND " if node["op"] == "and" else " OR "
    return "(" + joiner.join(parts) + ")"


def _compile_condition(item: dict, params: dict, prefix: str, counter: list[int]) -> str:
    fld = FIELDS[item["field"]]  # whitelisted by validate()
    template = OPERATORS[fld.kind][item["operator"]]
    name = prefix + str(counter[0])
    counter[0] += 1
    value = item["value"]
    if item["operator"] == "between":
        params[name + "_lo"], params[name + "_hi"] = value
    elif item["operator"] == "has_all":
        params[name] = value
        params[name + "_n"] = len(value)
    elif item["operator"] not in NO_VALUE:
        params[name] = value
    return "(" + template.format(col=fld.key, p=name) + ")"


# ---------------------------------------------------------------- reads


def _as_of(as_of: date | None) -> date:
    return as_of or settings.as_of()


def _run(query_name: str, definition: Any, as_of: date | None, **extra: Any) -> pd.DataFrame:
    compiled = compile(definition)
    sql = compose(query_name, {"segment_filter": compiled.sql})
    return warehouse.read(warehouse.raw_sql(sql), as_of=_as_of(as_of), **compiled.params, **extra)


def stats(definition: Any, as_of: date | None = None) -> dict:
    """Members, revenue (net spend as of the RFM snapshot), revenue and customer share."""
    row = _run("segment_stats", definition, as_of).iloc[0].to_dict()
    return {
        k: (None if pd.isna(v) else (float(v) if k not in ("members", "all_customers") else int(v)))
        for k, v in row.items()
    }


@auth.pii_reader("view_customer")
def sample(user: auth.User, definition: Any, limit: int = 20, as_of: date | None = None) -> pd.DataFrame:
    """A few members for a look while editing, masked for the user's role."""
    auth.require(user, "view_customer")
    frame = _run("segment_sample", definition, as_of, limit=max(1, min(int(limit), 100)))
    return privacy.mask_frame(user, frame)


def member_ids(definition: Any, as_of: date | None = None) -> list[int]:
    return _run("segment_member_ids", definition, as_of)["customer_id"].astype(int).tolist()


def overlap(definition_a: Any, definition_b: Any, as_of: date | None = None) -> dict:
    """Counts in A, B, both, only A, only B, either; Jaccard similarity."""
    a, b = compile(definition_a, "a"), compile(definition_b, "b")
    sql = compose("segment_overlap", {"segment_a": a.sql, "segment_b": b.sql})
    row = warehouse.one(warehouse.raw_sql(sql), as_of=_as_of(as_of), **a.params, **b.params) or {}
    out = {k: int(v or 0) for k, v in row.items()}
    out["jaccard"] = out["both_ab"] / out["union_ab"] if out.get("union_ab") else 0.0
    return out


def by_rfm_segment(definition: Any, as_of: date | None = None) -> pd.DataFrame:
    """Members per RFM segment with their average and total CLV and churn probability."""
    return _run("segment_rfm_clv", definition, as_of)


def field_values(field_key: str, as_of: date | None = None) -> list[str]:
    """Distinct values of a pick-list field (most common first)."""
    fld = FIELDS.get(field_key)
    if fld is None:
        raise SegmentError(f"Unknown field {field_key!r}.")
    if fld.choices:
        return list(fld.choices)
    if fld.key in CATEGORY_FIELDS:
        return preference_categories()
    if not fld.picklist:
        return []
    sql = compose("segment_field_values", {"field_column": fld.key})
    return [str(v) for v in warehouse.read(warehouse.raw_sql(sql), as_of=_as_of(as_of))["value"]]


def describe(definition: Any) -> str:
    """A one-line, human-readable rendering (for audit entries, exports and lists)."""

    def group(node: dict) -> str:
        parts = [group(c) if "op" in c else cond(c) for c in node["conditions"]]
        if not parts:
            return "all customers" if node["op"] == "and" else "nobody"
        return "(" + f" {node['op'].upper()} ".join(parts) + ")"

    def cond(c: dict) -> str:
        value = "" if c["value"] is None else " " + json.dumps(c["value"], ensure_ascii=False)
        return f"{c['field']} {c['operator']}{value}"

    return group(validate(definition))


# ---------------------------------------------------------------- saved segments


def list_saved() -> pd.DataFrame:
    frame = warehouse.read("segments_all")
    frame["definition"] = frame["definition"].map(lambda d: json.loads(d) if isinstance(d, str) else d)
    return frame


def get(segment_id: int | None = None, name: str | None = None) -> dict | None:
    row = (
        warehouse.one("segment_by_id", segment_id=segment_id)
        if segment_id is not None
        else warehouse.one("segment_by_name", segment_name=name or "")
    )
    if row is not None and isinstance(row["definition"], str):
        row["definition"] = json.loads(row["definition"])
    return row


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("A segment needs a name.")
    name = " ".join(name.split())
    if len(name) > 80:
        raise SegmentError("Segment names may be at most 80 characters.")
    return name


def _may_change(user: auth.User, row: dict) -> None:
    if row["owner"] != user.username and "admin" not in user.roles:
        raise auth.PermissionDenied(user, f"change the segment {row['name']!r} owned by {row['owner']}")


@warehouse.retrying
def save(user: auth.User, name: str, definition: Any, description: str | None = None) -> int:
    """Save a new named segment owned by the user; returns its id."""
    auth.require(user, "manage_segments")
    name, clean = _clean_name(name), validate(definition)
    description = (description or "").strip()[:500] or None
    with warehouse.transaction() as tx:
        if tx.one("segment_by_name", segment_name=name) is not None:
            raise SegmentError(f"A segment named {name!r} already exists.")
        segment_id = tx.scalar(
            "segment_insert",
            segment_name=name,
            description=description,
            definition=json.dumps(clean, ensure_ascii=False),
            owner=user.username,
        )
        audit.record(
            tx,
            user,
            "segment.create",
            "segment",
            segment_id,
            after={"name": name, "definition": clean, "description": description},
        )
    return int(segment_id)


@warehouse.retrying
def update(
    user: auth.User,
    segment_id: int,
    expected_version: int,
    *,
    name: str | None = None,
    definition: Any = None,
    description: str | None = None,
) -> dict:
    """Rename and/or change the definition; the version must match what the user loaded."""
    auth.require(user, "manage_segments")
    with warehouse.transaction() as tx:
        before = tx.one("segment_by_id", segment_id=segment_id)
        if before is None:
            raise StaleSegmentError("The segment was deleted by someone else.")
        _may_change(user, before)
        if before["version"] != expected_version:
            raise StaleSegmentError(f"The segment {before['name']!r} was changed by someone else; reload it.")
        old_definition = (
            json.loads(before["definition"]) if isinstance(before["definition"], str) else before["definition"]
        )
        new = {
            "name": _clean_name(name) if name is not None else before["name"],
            "definition": validate(definition) if definition is not None else old_definition,
            "description": (description.strip()[:500] or None) if description is not None else before["description"],
        }
        if new["name"].lower() != before["name"].lower():
            if tx.one("segment_by_name", segment_name=new["name"]) is not None:
                raise SegmentError(f"A segment named {new['name']!r} already exists.")
        # The version check above runs in this transaction; a concurrent writer makes the
        # commit fail with a conflict (retried, then reported), so the update cannot be lost.
        tx.run(
            "segment_update",
            segment_id=segment_id,
            expected_version=expected_version,
            segment_name=new["name"],
            description=new["description"],
            definition=json.dumps(new["definition"], ensure_ascii=False),
        )
        verb = "segment.rename" if name is not None and definition is None else "segment.update"
        audit.record(
            tx,
            user,
            verb,
            "segment",
            segment_id,
            before={"name": before["name"], "definition": old_definition, "version": before["version"]},
            after={**new, "version": expected_version + 1},
        )
    return {**new, "segment_id": segment_id, "version": expected_version + 1}


def rename(user: auth.User, segment_id: int, new_name: str, expected_version: int) -> dict:
    return update(user, segment_id, expected_version, name=new_name)


def duplicate(user: auth.User, segment_id: int, new_name: str | None = None) -> int:
    """A copy owned by the user (anyone who may manage segments may copy any segment)."""
    auth.require(user, "manage_segments")
    source = get(segment_id)
    if source is None:
        raise StaleSegmentError("The segment was deleted by someone else.")
    return save(user, new_name or f"{source['name']} (copy)", source["definition"], source["description"])


@warehouse.retrying
def delete(user: auth.User, segment_id: int, expected_version: int) -> None:
    auth.require(user, "manage_segments")
    with warehouse.transaction() as tx:
        before = tx.one("segment_by_id", segment_id=segment_id)
        if before is None:
            raise StaleSegmentError("The segment was already deleted.")
        _may_change(user, before)
        if before["version"] != expected_version:
            raise StaleSegmentError(f"The segment {before['name']!r} was changed by someone else; reload it.")
        tx.run("segment_delete", segment_id=segment_id, expected_version=expected_version)
        audit.record(
            tx,
            user,
            "segment.delete",
            "segment",
            segment_id,
            before={"name": before["name"], "definition": before["definition"], "version": before["version"]},
        )


def resolve(name_or_definition: Any) -> tuple[str | None, dict]:
    """(segment name or None, definition) from a saved segment's name or a definition."""
    if isinstance(name_or_definition, str) and not name_or_definition.lstrip().startswith("{"):
        row = get(name=name_or_definition)
        if row is None:
            raise SegmentError(f"No saved segment named {name_or_definition!r}.")
        return row["name"], validate(row["definition"])
    return None, validate(name_or_definition)
