"""Segment builder: compiled SQL per operator and nesting, refusals, members, saved segments."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from lib.security import auth
from lib.marketing import lifecycle, queries, rfm, segments
from lib.core import warehouse
from lib.marketing.segments import StaleSegmentError as ConflictError, SegmentError
from tests import marketing_fixture as mf
from tests.marketing_fixture import fresh_wh  # noqa: F401 - fixture

LIVE = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13}


def _fill(build: bool = True) -> None:
    if build:
        mf.build()
    rfm.refresh(auth.SYSTEM, mf.AS_OF)
    lifecycle.recompute(auth.SYSTEM, mf.AS_OF, lifecycle.Rules())
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO churn_scores (customer_id, model_id, as_of, probability, risk_tier, reasons)"
            " VALUES (7, 1, DATE '2026-06-30', 0.8, 'high', ['recency']),"
            " (10, 1, DATE '2026-06-30', 0.9, 'high', ['recency']),"
            " (1, 1, DATE '2026-06-30', 0.1, 'low', [])"
        )
        tx.run(
            "INSERT INTO clv_scores (customer_id, clv_model_id, as_of, horizon_days, p_alive,"
            " expected_purchases, expected_avg_value, expected_value)"
            " VALUES (1, 1, DATE '2026-06-30', 180, 0.95, 2.0, 250.0, 500.0),"
            " (2, 1, DATE '2026-06-30', 180, 0.60, 0.5, 100.0, 50.0)"
        )


@pytest.fixture
def seg_wh(fresh_wh):
    """A fresh fixture warehouse for tests that write."""
    _fill(build=False)
    return fresh_wh


@pytest.fixture(scope="module")
def shared_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("segments") / "warehouse.duckdb"
    warehouse.use(str(path))
    warehouse.migrate()
    _fill()
    warehouse.dispose()
    warehouse.use(None)
    return path


@pytest.fixture
def read_wh(shared_path):
    """The module's fixture warehouse, for tests that only read (built once)."""
    warehouse.use(str(shared_path))
    yield shared_path
    warehouse.dispose()
    warehouse.use(None)


def one(field, operator, value=None) -> dict:
    return {"op": "and", "conditions": [{"field": field, "operator": operator, "value": value}]}


def members(definition) -> set[int]:
    return set(segments.member_ids(definition, mf.AS_OF))


# ---------------------------------------------------------------- compiled SQL


@pytest.mark.parametrize(
    "field,operator,value,sql,params",
    [
        ("gender", "eq", "F", "((base.gender = :s0))", {"s0": "F"}),
        ("gender", "neq", "F", "((base.gender IS DISTINCT FROM :s0))", {"s0": "F"}),
        (
            "gender",
            "in",
            ["M", "U"],
            "((coalesce(list_contains(CAST(:s0 AS VARCHAR[]), base.gender), false)))",
            {"s0": ["M", "U"]},
        ),
        (
            "gender",
            "not_in",
            ["M"],
            "((NOT coalesce(list_contains(CAST(:s0 AS VARCHAR[]), base.gender), false)))",
            {"s0": ["M"]},
        ),
        (
            "province",
            "contains",
            "广东",
            "((coalesce(contains(lower(base.province), lower(:s0)), false)))",
            {"s0": "广东"},
        ),
        ("province", "starts_with", "广", "((coalesce(starts_with(base.province, :s0), false)))", {"s0": "广"}),
        ("province", "is_null", None, "((base.province IS NULL))", {}),
        ("age", "not_null", None, "((base.age IS NOT NULL))", {}),
        ("age", "lt", 30, "((base.age < :s0))", {"s0": 30}),
        ("age", "lte", 30, "((base.age <= :s0))", {"s0": 30}),
        ("age", "gt", "30", "((base.age > :s0))", {"s0": 30.0}),
        ("age", "gte", 30, "((base.age >= :s0))", {"s0": 30}),
        ("age", "between", [40, 30], "((base.age BETWEEN :s0_lo AND :s0_hi))", {"s0_lo": 30, "s0_hi": 40}),
        ("last_purchase", "before", "2026-03-01", "((base.last_purchase < CAST(:s0 AS DATE)))", {"s0": "2026-03-01"}),
        (
            "last_purchase",
            "on_or_after",
            "2026-05-01",
            "((base.last_purchase >= CAST(:s0 AS DATE)))",
            {"s0": "2026-05-01"},
        ),
        (
            "last_purchase",
            "within_days",
            30,
            "((base.last_purchase > CAST(:as_of AS DATE) - to_days(CAST(:s0 AS INTEGER))))",
            {"s0": 30},
        ),
        ("consent_sms", "is_true", None, "((base.consent_sms))", {}),
        ("consent_sms", "is_false", None, "((NOT base.consent_sms))", {}),
        (
            "tags",
            "has_all",
            ["vip", "b2b-key"],
            "(((SELECT count(DISTINCT t.tag) FROM tags t WHERE t.customer_id = base.customer_id AND "
            "list_contains(CAST(:s0 AS VARCHAR[]), t.tag)) = :s0_n))",
            {"s0": ["b2b-key", "vip"], "s0_n": 2},
        ),
    ],
)
def test_each_operator_compiles_to_a_whitelisted_template_with_bound_values(field, operator, value, sql, params):
    compiled = segments.compile(one(field, operator, value))
    assert compiled.sql == sql
    assert compiled.params == params


def test_nested_groups_compile_with_parentheses_and_numbered_parameters():
    definition = {
        "op": "or",
        "conditions": [
            {
                "op": "and",
                "conditions": [
                    {"field": "customer_type", "operator": "eq", "value": "B2B"},
                    {"field": "tags", "operator": "has_any", "value": ["vip"]},
                ],
            },
            {"field": "rfm_segment", "operator": "eq", "value": "New"},
        ],
    }
    compiled = segments.compile(definition)
    assert compiled.sql.startswith("(((base.customer_type = :s0) AND (EXISTS (SELECT 1 FROM tags t")
    assert compiled.sql.endswith(" OR (base.rfm_segment = :s2))")
    assert compiled.params == {"s0": "B2B", "s1": ["vip"], "s2": "New"}


def test_empty_groups_mean_everyone_and_nobody():
    assert segments.compile(segments.empty()).sql == "TRUE"
    assert segments.compile({"op": "or", "conditions": []}).sql == "FALSE"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "definition,message",
    [
        (one("mobile", "eq", "+8613800000001"), "Unknown field"),
        (one("full_name", "contains", "张"), "Unknown field"),
        (one("age; DROP TABLE customers; --", "eq", 1), "Unknown field"),
        (one("gender", "like", "%"), "not allowed"),
        (one("gender", "eq) OR 1=1 --", "F"), "not allowed"),
        (one("tags", "eq", "vip"), "not allowed"),
        (one("gender", "contains", "F"), "not allowed"),
        (one("gender", "eq", "X"), "not a value of gender"),
        (one("rfm_segment", "eq", "Champions' OR '1'='1"), "not a value of rfm_segment"),
        (one("age", "gt", "thirty"), "needs a number"),
        (one("age", "gt", float("nan")), "finite"),
        (one("last_purchase", "before", "yesterday"), "needs a date"),
        (one("city", "in", []), "non-empty list"),
        (one("age", "between", [1]), "two values"),
        (one("last_purchase", "within_days", 1.5), "whole number"),
        ({"op": "xor", "conditions": []}, "Unknown group operator"),
        ({"op": "and", "conditions": [{"field": "age", "operator": "gt", "value": 1, "sql": "1=1"}]}, "needs"),
        ({"op": "and", "conditions": "age > 1"}, "must be a list"),
        ("{not json", "not valid JSON"),
    ],
)
def test_refuses_what_is_not_whitelisted(definition, message):
    with pytest.raises(SegmentError, match=message):
        segments.compile(definition)


def test_refuses_deep_nesting_and_too_many_conditions():
    deep = {"op": "and", "conditions": []}
    node = deep
    for _ in range(segments.MAX_DEPTH):
        child = {"op": "or", "conditions": []}
        node["conditions"].append(child)
        node = child
    with pytest.raises(SegmentError, match="nested"):
        segments.compile(deep)
    many = {
        "op": "and",
        "conditions": [{"field": "age", "operator": "gt", "value": i} for i in range(segments.MAX_CONDITIONS + 1)],
    }
    with pytest.raises(SegmentError, match="at most"):
        segments.compile(many)


def test_injection_in_a_value_is_only_ever_a_bound_parameter(read_wh):
    attack = "深圳市'; DROP TABLE tags; --"
    compiled = segments.compile(one("city", "eq", attack))
    assert attack not in compiled.sql and "DROP" not in compiled.sql
    assert members(one("city", "eq", attack)) == set()
    assert members(one("city", "contains", "') OR TRUE --")) == set()
    assert warehouse.scalar("SELECT count(*) FROM tags") == 4


# ---------------------------------------------------------------- members on the fixture


@pytest.mark.parametrize(
    "field,operator,value,expected",
    [
        ("gender", "eq", "F", {1, 3, 6, 8, 10}),
        ("gender", "neq", "F", {2, 4, 5, 7, 9, 11, 13}),
        ("gender", "in", ["M", "U"], {2, 4, 5, 7, 9, 11, 13}),
        ("gender", "not_in", ["M"], {1, 3, 5, 6, 8, 10, 13}),
        ("age", "between", [30, 40], {1, 2, 7}),
        ("age", "lt", 30, {5, 8}),
        ("age", "gte", 50, {6, 10}),
        ("age", "eq", 36, {2}),
        ("age", "is_null", None, {4, 11, 13}),
        ("province", "contains", "广东", {1, 2, 6, 9, 11}),
        ("province", "starts_with", "广", {1, 2, 6, 9, 11}),
        ("province", "is_null", None, {7}),
        ("city", "eq", "深圳市", {1, 6, 11}),
        ("city", "neq", "深圳市", {2, 3, 4, 5, 7, 8, 9, 10, 13}),
        ("industry", "in", ["Retail"], {3, 10}),
        ("customer_type", "eq", "B2B", {3, 5, 10}),
        ("channel", "in", ["app", "store"], {1, 3, 6, 7, 9, 10}),
        ("rfm_segment", "in", ["Hibernating", "Lost"], {8, 9}),
        ("rfm_segment", "is_null", None, {11, 13}),
        ("r_score", "gte", 4, {1, 2, 3, 4}),
        ("total_spend", "gt", 2000, {1, 3, 7, 10}),
        ("total_spend", "between", [300, 900], {4, 6, 8, 9}),
        ("order_count", "eq", 2, {4, 8, 9}),
        ("last_purchase", "before", "2026-03-01", {8, 9, 10}),
        ("last_purchase", "on_or_after", "2026-05-01", {1, 2, 3, 4, 5}),
        ("last_purchase", "within_days", 30, {1, 2, 3}),
        ("last_purchase", "not_within_days", 100, {7, 8, 9, 10, 11, 13}),
        ("days_since_purchase", "lte", 20, {1, 2, 3}),
        ("registered_at", "between", ["2023-12-31", "2024-01-02"], LIVE),
        ("lifecycle_stage", "eq", "churned", {10}),
        ("lifecycle_stage", "in", ["intent", "prospect"], {11, 13}),
        ("churn_risk", "eq", "high", {7, 10}),
        ("churn_probability", "gte", 0.5, {7, 10}),
        ("clv", "gt", 100, {1}),
        ("p_alive", "lt", 0.9, {2}),
        ("tags", "has_any", ["vip"], {1, 3}),
        ("tags", "has_all", ["vip", "b2b-key"], {3}),
        ("tags", "has_none", ["vip"], LIVE - {1, 3}),
        ("consent_sms", "is_true", None, {1, 2, 3, 5, 6, 7}),
        ("consent_sms", "is_false", None, {4, 8, 9, 10, 11, 13}),
        ("has_valid_mobile", "is_false", None, {3, 6}),
        ("has_valid_email", "is_false", None, {2, 5}),
    ],
)
def test_each_operator_selects_exactly_the_expected_customers(read_wh, field, operator, value, expected):
    assert members(one(field, operator, value)) == expected


def test_nesting_and_or(read_wh):
    female_and_gd_or_big = {
        "op": "and",
        "conditions": [
            {"field": "gender", "operator": "eq", "value": "F"},
            {
                "op": "or",
                "conditions": [
                    {"field": "province", "operator": "contains", "value": "广东"},
                    {"field": "total_spend", "operator": "gt", "value": 4000},
                ],
            },
        ],
    }
    assert members(female_and_gd_or_big) == {1, 6, 10}
    b2b_vip_or_new = {
        "op": "or",
        "conditions": [
            {
                "op": "and",
                "conditions": [
                    {"field": "customer_type", "operator": "eq", "value": "B2B"},
                    {"field": "tags", "operator": "has_any", "value": ["vip"]},
                ],
            },
            {"field": "rfm_segment", "operator": "eq", "value": "New"},
        ],
    }
    assert members(b2b_vip_or_new) == {2, 3}
    assert members(segments.empty()) == LIVE


def test_stats_count_revenue_and_share(read_wh):
    s = segments.stats(one("gender", "eq", "F"), mf.AS_OF)
    assert s["members"] == 5 and s["all_customers"] == 12
    assert s["revenue"] == 3000 + 2500 + 900 + 300 + 8000
    assert s["revenue_share"] == pytest.approx(14700 / mf.TOTAL_REVENUE)


def test_sample_is_masked_for_marketing_and_not_for_admin(read_wh, users):
    definition = one("tags", "has_any", ["vip"])
    masked = segments.sample(users["marketing"], definition, as_of=mf.AS_OF).set_index("customer_id")
    assert masked.loc[1, "mobile"] == "+86 138****0001"
    assert masked.loc[1, "email"] == "o***@example.com"
    plain = segments.sample(users["admin"], definition, as_of=mf.AS_OF).set_index("customer_id")
    assert plain.loc[1, "mobile"] == "+8613800000001"


def test_overlap_of_two_segments(read_wh):
    got = segments.overlap(one("tags", "has_any", ["vip"]), one("customer_type", "eq", "B2B"), mf.AS_OF)
    assert got == {"a": 2, "b": 3, "both_ab": 1, "a_only": 1, "b_only": 2, "union_ab": 4, "jaccard": 0.25}


def test_field_values_offer_only_whitelisted_pick_lists(read_wh):
    assert segments.field_values("city", mf.AS_OF)[0] == "深圳市"
    assert segments.field_values("gender") == ["M", "F", "U"]
    with pytest.raises(SegmentError):
        segments.field_values("mobile")


# ---------------------------------------------------------------- saved segments


def audit_actions() -> list[str]:
    return warehouse.read("SELECT action FROM audit_log WHERE entity = 'segment' ORDER BY audit_id")["action"].tolist()


def test_save_rename_duplicate_delete_with_versions_owner_and_audit(seg_wh, users):
    marketing, lead, admin = users["marketing"], users["lead"], users["admin"]
    sid = segments.save(marketing, "  VIP   customers ", one("tags", "has_any", ["vip"]))
    row = segments.get(sid)
    assert (row["name"], row["owner"], row["version"]) == ("VIP customers", "marketing", 1)
    assert row["created_at"] is not None and row["updated_at"] is not None
    with pytest.raises(SegmentError, match="already exists"):
        segments.save(lead, "vip CUSTOMERS", segments.empty())
    segments.rename(marketing, sid, "Key accounts", expected_version=1)
    assert segments.get(sid)["version"] == 2
    with pytest.raises(ConflictError):
        segments.rename(marketing, sid, "Stale", expected_version=1)
    with pytest.raises(auth.PermissionDenied):
        segments.rename(lead, sid, "Not mine", expected_version=2)
    with pytest.raises(auth.PermissionDenied):
        segments.delete(lead, sid, expected_version=2)
    copy = segments.duplicate(lead, sid)
    assert segments.get(copy)["name"] == "Key accounts (copy)"
    assert segments.get(copy)["owner"] == "lead"
    segments.update(marketing, sid, 2, definition=one("customer_type", "eq", "B2B"))
    assert segments.get(sid)["definition"] == one("customer_type", "eq", "B2B")
    segments.delete(admin, sid, expected_version=3)  # an admin may delete anyone's
    assert segments.get(sid) is None
    assert audit_actions() == ["segment.create", "segment.rename", "segment.create", "segment.update", "segment.delete"]


@pytest.mark.parametrize(
    "username,allowed", [("marketing", True), ("admin", True), ("lead", True), ("manager", False), ("steward", False)]
)
def test_who_may_save_segments(seg_wh, users, username, allowed):
    if allowed:
        assert segments.save(users[username], f"by {username}", segments.empty()) > 0
    else:
        with pytest.raises(auth.PermissionDenied):
            segments.save(users[username], f"by {username}", segments.empty())
        assert warehouse.scalar("SELECT count(*) FROM segments") == 0


def test_resolve_accepts_a_saved_name_or_a_definition(seg_wh, users):
    segments.save(users["marketing"], "B2B", one("customer_type", "eq", "B2B"))
    assert segments.resolve("b2b") == ("B2B", one("customer_type", "eq", "B2B"))
    assert segments.resolve(one("age", "gt", 1))[0] is None
    with pytest.raises(SegmentError, match="No saved segment"):
        segments.resolve("nope")


# ---------------------------------------------------------------- segment_base's optional parts

QUERIES_OVER_THE_BASE = ("segment_stats", "segment_sample", "segment_member_ids", "segment_rfm_clv", "audience_counts")
DEFINITIONS = {
    "everyone": {"op": "and", "conditions": []},
    "churn": one("churn_risk", "in", ["high"]),
    "clv": one("clv", "gt", 100),
    "consent": one("consent_sms", "is_true"),
    "spend and feedback": {
        "op": "or",
        "conditions": [one("total_spend", "gt", 100), one("nps_category", "eq", "no_response")],
    },
}


def _columns(sql: str) -> set[str]:
    return set(warehouse.read(warehouse.raw_sql(f"SELECT * FROM ({sql}) LIMIT 0"), as_of=mf.AS_OF).columns)


def test_each_part_of_segment_base_names_exactly_the_columns_it_adds(read_wh):
    full = queries.compose("segment_base")
    parts = queries.base_parts(full)
    assert set(parts) == {"rfm", "churn", "clv", "consent", "preferences", "feedback"}
    every = _columns(full)
    for part, columns in parts.items():
        assert every - _columns(queries.without_parts(full, {part})) == columns, part


def _reads(sql: str, table: str) -> bool:
    return re.search(rf"\b(FROM|JOIN)\s+{table}\b", sql) is not None


def test_a_count_of_everyone_reads_only_customers_and_rfm():
    sql = queries.compose("segment_stats", {"segment_filter": "TRUE"})
    assert _reads(sql, "customers") and _reads(sql, "customer_rfm")
    for table in ("consents", "churn_scores", "clv_scores", "customer_preferences", "feedback"):
        assert not _reads(sql, table), table
    with_churn = queries.compose("segment_stats", {"segment_filter": segments.compile(DEFINITIONS["churn"]).sql})
    assert _reads(with_churn, "churn_scores") and not _reads(with_churn, "consents")
    # a query that returns every column of the base keeps every part
    assert _reads(queries.used_parts_only(queries.compose("segment_base"), "SELECT * FROM base"), "consents")


@pytest.mark.parametrize("definition", DEFINITIONS.values(), ids=DEFINITIONS.keys())
def test_leaving_out_unused_parts_changes_no_answer(read_wh, definition):
    compiled = segments.compile(definition)
    full = queries.compose("segment_base")
    for name in QUERIES_OVER_THE_BASE:
        pruned = queries.compose(name, {"segment_filter": compiled.sql})
        everything = queries.compose(name, {"segment_filter": compiled.sql, "segment_base": full})
        params = {"as_of": mf.AS_OF, "limit": 50, **compiled.params}
        got, want = (warehouse.read(warehouse.raw_sql(sql), **params) for sql in (pruned, everything))
        assert len(pruned) < len(everything) or name == "audience_counts", name
        # rows tied in a query's order may come in either order
        got, want = (f.sort_values(list(f.columns), ignore_index=True) for f in (got, want))
        pd.testing.assert_frame_equal(got, want, obj=name)
