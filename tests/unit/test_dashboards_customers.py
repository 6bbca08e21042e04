"""Customer search and 360° reads: what each role sees, exact matches on normalised values."""

from __future__ import annotations

import json

import pytest

from lib.security import audit, auth
from lib.dashboards import customers
from lib.core import warehouse
from tests import dashboards_fixture as fixture


@pytest.fixture
def small(warehouse_path):
    fixture.build()
    return warehouse_path


SEARCHES = [
    ("张", [1]),  # partial Chinese name (6 is merged into 1: not listed)
    ("zhangsan", [1]),
    ("zhang san", [1]),
    ("ZS", [1]),  # pinyin, compact, initials
    ("138 1234 5678", [1]),
    ("+86 138-1234-5678", [1]),  # any mobile format, full value only
    ("1381234", []),  # partial mobile: no match
    ("zhangsa", [1]),
    ("San", [1]),  # pinyin prefix run together; case does not matter
    ("Zhang.San@EXAMPLE.com", [1]),  # email in another case
    ("4", [4]),  # customer id
    ("示例贸易", [4]),  # company, partial
    ("anna", [5]),
    ("nobody", []),
]


def test_search_finds_by_name_pinyin_mobile_email_id_and_company(small, users):
    for entry, ids in SEARCHES:
        page = customers.search(users["manager"], entry)
        assert (entry, page.rows["customer_id"].tolist(), page.total) == (entry, ids, len(ids))


def test_search_pages_with_limit_and_offset(small, users):
    first = customers.search(users["manager"], "a", page=1, page_size=2)
    second = customers.search(users["manager"], "a", page=2, page_size=2)
    # pinyin with an "a": zhang san, wang wu, zhao liu, anna smith, zhou ba (not li si)
    assert first.total == second.total == 5
    assert first.pages == 3
    assert first.rows["customer_id"].tolist() == [1, 3] and second.rows["customer_id"].tolist() == [4, 5]


SEEN = {
    "manager": ("+86 138****5678", "z***@example.com"),
    "marketing": ("+86 138****5678", "z***@example.com"),
    "steward": ("+8613812345678", "zhang.san@example.com"),
    "admin": ("+8613812345678", "zhang.san@example.com"),
}


def test_contacts_are_masked_unless_the_role_may_see_them(small, users):
    for username, (mobile, email) in SEEN.items():
        row = customers.search(users[username], "13812345678").rows.iloc[0]
        assert (username, row["mobile"], row["email"]) == (username, mobile, email)
        p = customers.profile(users[username], 1)
        assert (username, p["mobile"], p["email"]) == (username, mobile, email)
        assert "id_number_enc" not in p and "id_number_hash" not in p
        assert customers.customer_360(users[username], 1).profile == p


def test_only_unmasked_profile_reads_are_audited(small, users):
    customers.profile(users["manager"], 1)
    customers.customer_360(users["manager"], 1)
    customers.profile(users["steward"], 1)
    customers.customer_360(users["admin"], 2)
    rows = warehouse.read("SELECT username, entity_id FROM audit_log WHERE action = 'customer.view' ORDER BY audit_id")
    assert rows.to_dict("records") == [
        {"username": "steward", "entity_id": "1"},
        {"username": "admin", "entity_id": "2"},
    ]


def test_a_user_without_a_role_is_refused(small):
    with pytest.raises(auth.PermissionDenied):
        customers.profile(auth.User("nobody"), 1)
    with pytest.raises(auth.PermissionDenied):
        customers.customer_360(auth.User("nobody"), 1)
    with pytest.raises(auth.PermissionDenied):
        customers.search(auth.User("nobody"), "张")


def test_unknown_customer_raises_not_found(small, users):
    with pytest.raises(customers.NotFound):
        customers.profile(users["manager"], 999)
    with pytest.raises(customers.NotFound):
        customers.customer_360(users["manager"], 999)


def test_360_reads_orders_events_notes_tags_consents(small, users):
    from tests import factories as fx

    with warehouse.transaction() as tx:
        fx.tag(tx, 1, "vip")
        fx.consent(tx, 1, "sms", "granted")
        fx.event(tx, 1, "complaint", fixture.dt(2026, 6, 1), note="物流太慢")
    m = users["manager"]
    one, two = customers.customer_360(m, 1), customers.customer_360(m, 2)
    assert one.summary["kept_orders"] == 3
    assert float(two.summary["net_revenue"]) == 500.0
    assert one.orders["amount"].astype(float).tolist() == [300.0, 200.0, 100.0]
    assert list(one.orders.columns) == [
        "order_id",
        "order_time",
        "status",
        "amount",
        "refund_amount",
        "channel",
        "category",
        "item_count",
        "source",
    ]
    assert len(one.events) == 5 and one.events["event_time"].is_monotonic_decreasing
    assert one.notes["note"].tolist() == ["物流太慢"]
    assert one.tags == ["vip"]
    assert one.consents[["channel", "status", "current"]].values.tolist() == [["sms", "granted", True]]


def test_360_timeline_is_capped_but_every_note_is_kept(small, users):
    from tests import factories as fx

    with warehouse.transaction() as tx:
        fx.event(tx, 1, "consult", fixture.dt(2020, 1, 1), note="旧的咨询")
        fx.consent(tx, 1, "sms", "granted")
        fx.consent(tx, 1, "sms", "withdrawn")
    view = customers.customer_360(users["manager"], 1, events_limit=2, orders_limit=1)
    assert len(view.events) == 2 and len(view.orders) == 1
    # the summary counts every order, not only the ones listed
    assert view.summary["kept_orders"] == 3 and float(view.summary["net_revenue"]) == 600.0
    assert (view.summary["first_order"], view.summary["last_order"]) == (
        fixture.dt(2025, 1, 10, 10),
        fixture.dt(2026, 5, 20, 10),
    )
    assert view.notes["note"].tolist() == ["旧的咨询"]  # older than the two newest events
    assert view.consents["current"].tolist().count(True) == 1


def test_summary_of_a_customer_without_orders_and_of_refunds(small, users):
    m = users["manager"]
    none = customers.customer_360(m, 3).summary
    assert none == {"kept_orders": 0, "net_revenue": 0, "refunded_orders": 0, "first_order": None, "last_order": None}
    four = customers.customer_360(m, 4).summary  # 1000 kept + 400 partly refunded (100)
    assert (four["kept_orders"], float(four["net_revenue"]), four["refunded_orders"]) == (2, 1300.0, 1)


def test_history_is_this_records_changes_newest_first_through_the_audit_index(small, users):
    steward = users["steward"]
    audit.record(None, steward, "customer.update", "customer", 1, before={"city": "上海"}, after={"city": "杭州"})
    audit.record(None, steward, "customer.view", "customer", 1, detail={"contacts": "unmasked"})
    audit.record(None, steward, "user.update", "user", 1, after={"roles": "admin"})  # same id, other entity
    audit.record(None, steward, "customer.update", "customer", 2, after={"city": "北京"})
    audit.record(None, steward, "customer.update", "customer", 1, before={"city": "杭州"}, after={"city": "苏州"})
    history = customers.customer_360(users["manager"], 1).history
    assert history["action"].tolist() == ["customer.update", "customer.update"]
    assert [json.loads(a)["city"] for a in history["after"]] == ["苏州", "杭州"]


def test_the_360_reads_small_tables_and_the_audit_log_through_indexes(small, users):
    # The audit log only grows: at 3M rows a scan of it took 32 ms (migration 0009). Tags,
    # consents and flags by index saved ~0.3-0.5 ms each (0010). Orders and events must not
    # go through an index: DuckDB fetches index hits row by row, 224 ms for a customer with
    # thousands of events against 40 ms by their sort order.
    with warehouse.transaction() as tx:  # a warehouse in use: tables of a few rows are scanned
        tx.run("INSERT INTO tags SELECT i, 'bulk', 'test', now() FROM range(5000) r(i)")
        tx.run(
            "INSERT INTO consents (customer_id, channel, status, source, recorded_at) "
            "SELECT i, 'sms', 'granted', 'test', now() FROM range(5000) r(i)"
        )
        tx.run(
            "INSERT INTO quality_flags (customer_id, kind, rule_id, severity) "
            "SELECT i, 'rule', 'test', 'low' FROM range(5000) r(i)"
        )
        tx.run(
            "INSERT INTO audit_log (username, action, entity, entity_id) "
            "SELECT 'test', 'customer.update', 'customer', CAST(i AS VARCHAR) FROM range(5000) r(i)"
        )
    plan = warehouse.read(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + warehouse.query("c360_details"),
        id=1,
        history_limit=50,
        orders_limit=10,
        events_limit=10,
    )
    scans = _table_scans(json.loads(plan.iloc[0, -1]))
    assert {table: scans[table] for table in ("audit_log", "tags", "consents", "quality_flags")} == dict.fromkeys(
        ("audit_log", "tags", "consents", "quality_flags"), "Index Scan"
    )
    assert scans["orders"] == scans["events"] == "Sequential Scan"


def _table_scans(node, found=None) -> dict:
    """{table: scan type} from DuckDB's JSON query plan."""
    found = {} if found is None else found
    for child in node if isinstance(node, list) else [node]:
        info = child.get("extra_info") or {}
        if isinstance(info, dict) and info.get("Table"):
            found[info["Table"].rsplit(".", 1)[-1]] = info.get("Type")
        _table_scans(child.get("children", []), found)
    return found


def test_history_masks_contacts_inside_audit_snapshots(small, users):
    audit.record(
        None,
        users["steward"],
        "customer.update",
        "customer",
        1,
        before={"mobile": "+8613812345678"},
        after={"mobile": "+8613812349999"},
    )
    seen = customers.customer_360(users["manager"], 1).history
    assert json.loads(seen["before"][0]) == {"mobile": "+86 138****5678"}
    assert json.loads(customers.customer_360(users["admin"], 1).history["after"][0]) == {"mobile": "+8613812349999"}


def test_quality_flags_show_missing_and_invalid_values_raw_input_and_open_flags(small, users):
    with warehouse.transaction() as tx:
        tx.run(
            "UPDATE customers SET mobile = '+86123', email = NULL, "
            'raw_values = \'{"email": "zhang@@example"}\' WHERE customer_id = 3'
        )
    flags = customers.customer_360(users["manager"], 3).quality_flags
    found = {(f["source"], f["field"], f["code"]) for f in flags}
    assert ("record", "mobile", "invalid") in found
    assert ("import", "email", "raw_value") in found
    assert next(f for f in flags if f["source"] == "import")["detail"] != "zhang@@example"  # masked
    assert ("record", "full_name", "missing") not in found
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity) "
            "VALUES (3, 'rule', 'mobile.valid', 'mobile', 'high')"
        )
    assert ("quality", "mobile", "mobile.valid") in {
        (f["source"], f["field"], f["code"]) for f in customers.customer_360(users["steward"], 3).quality_flags
    }


def test_exact_name_matches_rank_before_longer_names(small, users):
    """张伟帆 (id 20) was registered before 张伟 (ids 21, 22): a search for 张伟 - in characters,
    pinyin with or without the space, or initials - lists the two exact 张伟 first."""
    from lib.core import warehouse as wh
    from tests import factories as fx

    with wh.transaction() as tx:
        fx.customer(tx, 20, full_name="张伟帆", given_name="伟帆", name_pinyin="zhang wei fan|zwf|zhangweifan")
        fx.customer(tx, 21, full_name="张伟", given_name="伟", name_pinyin="zhang wei|zw|zhangwei")
        fx.customer(tx, 22, full_name="张伟", given_name="伟", name_pinyin="zhang wei|zw|zhangwei")
    for entry in ("张伟", "zhang wei", "Zhang Wei", "zhangwei"):
        page = customers.search(users["manager"], entry)
        assert (entry, page.rows["customer_id"].tolist()) == (entry, [21, 22, 20])
    # a partial entry has no exact match: plain id order, as before
    assert customers.search(users["manager"], "张伟f").rows["customer_id"].tolist() == []
    assert customers.search(users["manager"], "zhang w").rows["customer_id"].tolist() == [20, 21, 22]
