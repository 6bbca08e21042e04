"""Edits (versioned, audited, undoable), verify/ignore, merges with exact undo, duplicate model,
and the role matrix of every stewardship action (enforced in lib/)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from lib.security import auth
from lib.stewardship import edits as ce, dedup, importer, quality, review
from lib.core import validation, warehouse
from tests import factories
from tests import stewards_fixtures as fx
from tests.stewards_fixtures import _stw_root, stw_empty, stw_wh  # noqa: F401 - fixtures

TABLES = ("customers", "orders", "events", "consents", "tags", "quality_flags", "dedup_candidates")


def snapshot() -> dict[str, list[tuple]]:
    """Every row of the tables a merge touches, exactly as stored."""
    out = {}
    with warehouse.connect() as conn:
        raw = conn.connection.driver_connection
        for table in TABLES:
            out[table] = raw.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return out


# ---------------------------------------------------------------- edits


def test_an_edit_validates_bumps_the_version_and_audits_before_and_after(stw_wh, users):
    with pytest.raises(validation.ValidationError) as exc:
        ce.update_customer(users["steward"], 7, {"mobile": "12345", "postcode": "1"}, 1)
    assert set(exc.value.by_field()) == {"mobile", "postcode"}
    assert ce._get(7)["version"] == 1
    after = ce.update_customer(users["steward"], 7, {"mobile": "139 1234 0007"}, 1)
    assert (after["mobile"], after["version"]) == ("+8613912340007", 2)
    entry = warehouse.one(
        "SELECT username, CAST(before AS VARCHAR) b, CAST(after AS VARCHAR) a FROM audit_log "
        "WHERE action = 'customer.update'"
    )
    assert entry["username"] == "steward"
    # The append-only audit log keeps the values masked (erasure never rewrites it); the exact
    # values, for undo, are in customer_edit_values (cleared by an erasure).
    assert json.loads(entry["b"]) == {"mobile": "+86 126****2910", "version": 1}
    assert json.loads(entry["a"]) == {"mobile": "+86 139****0007", "version": 2}
    kept = warehouse.one(
        "SELECT CAST(before AS VARCHAR) b, CAST(after AS VARCHAR) a FROM "
        "customer_edit_values WHERE customer_id = 7 AND version = 2"
    )
    assert json.loads(kept["b"]) == {"mobile": "+8612633772910", "version": 1}
    assert json.loads(kept["a"]) == {"mobile": "+8613912340007", "version": 2}


def test_a_concurrent_save_is_reported_not_overwritten(stw_wh, users):
    ce.update_customer(users["admin"], 7, {"city": "广州市"}, 1)  # someone else saved first
    with pytest.raises(ce.StaleRecordError):
        ce.update_customer(users["steward"], 7, {"city": "上海市"}, 1)
    assert (ce._get(7)["city"], ce._get(7)["version"]) == ("广州市", 2)


def test_an_edit_is_undone_from_its_audit_entry_unless_the_record_changed_since(stw_wh, users):
    ce.update_customer(users["steward"], 8, {"email": "fixed@example.com"}, 1)
    audit_id = int(warehouse.scalar("SELECT max(audit_id) FROM audit_log WHERE action = 'customer.update'"))
    ce.undo_edit(users["steward"], audit_id)
    assert (ce._get(8)["email"], ce._get(8)["version"]) == ("a@@qq.com", 3)
    with pytest.raises(ce.EditError):
        ce.undo_edit(users["steward"], audit_id)
    ce.update_customer(users["steward"], 9, {"postcode": "518001"}, 1)
    first = int(warehouse.scalar("SELECT max(audit_id) FROM audit_log WHERE action = 'customer.update'"))
    ce.update_customer(users["steward"], 9, {"city": "广州市"}, 2)
    with pytest.raises(ce.StaleRecordError):
        ce.undo_edit(users["steward"], first)


def test_an_id_number_edit_stores_only_token_hash_and_last4(stw_wh, users):
    with pytest.raises(validation.ValidationError) as exc:
        ce.update_customer(users["steward"], 1, {"id_number": "11010519491231002X"}, 1)  # born 1990
    assert exc.value.errors[0].code == "id_number.birth_mismatch"
    ce.update_customer(users["steward"], 1, {"id_number": "11010519491231002X", "birth_date": "1949-12-31"}, 1)
    row = warehouse.one("SELECT id_number_last4, id_number_enc FROM customers WHERE customer_id = 1")
    assert row["id_number_last4"] == "002X" and "1101051949" not in row["id_number_enc"]
    logged = warehouse.scalar("SELECT CAST(after AS VARCHAR) FROM audit_log WHERE action = 'customer.update'")
    assert "11010519491231002X" not in logged


def test_verify_clears_the_stale_flag_and_ignore_needs_a_reason(stw_wh, users):
    quality.run(auth.SYSTEM)
    flag = review.items(users["steward"], review.QueueFilter(categories=["stale"])).iloc[0]
    assert int(flag["customer_id"]) in (20, 23)
    ce.verify(users["steward"], int(flag["customer_id"]), int(flag["version"]), flag_id=int(flag["item_id"]))
    assert review.flag(auth.SYSTEM, int(flag["item_id"]))["status"] == "verified"
    quality.run(auth.SYSTEM)
    assert (
        int(flag["customer_id"])
        not in review.items(users["steward"], review.QueueFilter(categories=["stale"]))["customer_id"].tolist()
    )
    other = int(review.items(users["steward"], review.QueueFilter(rule_id="email_domain_plausible")).iloc[0]["item_id"])
    with pytest.raises(validation.ValidationError):
        ce.ignore_flag(users["steward"], other, "ok")
    ce.ignore_flag(users["steward"], other, "customer confirmed this address by phone")
    assert review.flag(auth.SYSTEM, other)["status"] == "ignored"


def test_the_queue_puts_high_severity_first_and_filters(stw_wh, users):
    quality.run(auth.SYSTEM)
    items = review.items(users["steward"], limit=500)
    rank = items["severity"].map({"high": 0, "medium": 1, "low": 2})
    assert rank.is_monotonic_increasing
    assert len(items) == sum(len(v) for v in fx.EXPECTED.values())
    only = review.items(users["steward"], review.QueueFilter(severities=["low"], categories=["stale"]))
    assert sorted(only["customer_id"]) == [20, 23]


# ---------------------------------------------------------------- merges


@pytest.fixture
def pair_wh(stw_empty):
    with warehouse.transaction() as tx:
        factories.customer(
            tx,
            1,
            full_name="王芳",
            mobile="+8613812345678",
            email="wf@@qq.com",
            updated_at=datetime(2025, 1, 1),
            registered_at=datetime(2023, 1, 1),
            city="深圳市",
        )
        factories.customer(
            tx,
            2,
            full_name="王芳",
            mobile="12345",
            email="wangfang@qq.com",
            updated_at=datetime(2026, 1, 1),
            registered_at=datetime(2024, 1, 1),
            city=None,
            source="shop",
            source_record_id="S2",
        )
        for cid in (1, 2):
            factories.order(tx, cid, datetime(2025, 3, cid), 100.0 * cid)
            factories.event(tx, cid, "browse", datetime(2025, 4, cid))
            factories.consent(tx, cid, "sms")
            factories.tag(tx, cid, "vip")
        factories.tag(tx, 2, "new")
        tx.run(
            "INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity) "
            "VALUES (2, 'rule', 'mobile_valid', 'mobile', 'high')"
        )
        tx.run(
            "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
            "match_weight, agreement) VALUES (1, 1, 2, 0.97, 12.5, '{}')"
        )
    return stw_empty


def test_default_survivorship_takes_the_most_recent_valid_value(pair_wh):
    choices = dedup.default_choices(ce._get(1), ce._get(2))
    assert choices["email"] == "merged"  # record 2 is newer and its email is valid
    assert choices["mobile"] == "survivor"  # record 2's mobile is invalid
    assert choices["address"] == "merged"  # both have an address; 2 is newer


def test_merge_moves_children_and_undo_restores_every_row_byte_for_byte(pair_wh, users):
    before = snapshot()
    merge_id = dedup.merge(users["steward"], 1, 2, pair_id=1)
    assert warehouse.scalar("SELECT merged_into FROM customers WHERE customer_id = 2") == 1
    assert warehouse.scalar("SELECT count(*) FROM orders WHERE customer_id = 1") == 2
    assert warehouse.scalar("SELECT count(*) FROM events WHERE customer_id = 1") == 4
    assert warehouse.scalar("SELECT count(*) FROM consents WHERE customer_id = 1") == 2
    assert warehouse.read("SELECT tag FROM tags WHERE customer_id = 1 ORDER BY tag")["tag"].tolist() == ["new", "vip"]
    assert warehouse.scalar("SELECT count(*) FROM tags WHERE customer_id = 2") == 0
    assert ce._get(1)["email"] == "wangfang@qq.com" and ce._get(1)["mobile"] == "+8613812345678"
    assert warehouse.scalar("SELECT status FROM dedup_candidates WHERE pair_id = 1") == "merged"
    dedup.undo_merge(users["steward"], merge_id)
    assert snapshot() == before
    with pytest.raises(dedup.MergeError):
        dedup.undo_merge(users["steward"], merge_id)


def test_undo_is_refused_when_the_survivor_changed_after_the_merge(pair_wh, users):
    merge_id = dedup.merge(users["steward"], 1, 2)
    ce.update_customer(users["steward"], 1, {"city": "广州市"}, ce._get(1)["version"])
    with pytest.raises(ce.StaleRecordError):
        dedup.undo_merge(users["steward"], merge_id)


def test_a_stale_merge_screen_is_refused(pair_wh, users):
    ce.update_customer(users["admin"], 2, {"city": "广州市"}, 1)
    with pytest.raises(ce.StaleRecordError):
        dedup.merge(users["steward"], 1, 2, expected_versions=(1, 1))
    assert warehouse.scalar("SELECT merged_into FROM customers WHERE customer_id = 2") is None


def test_splink_finds_planted_duplicates_and_matches_new_imports(stw_empty, users, tmp_path):
    rows = []
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
    for i in range(400):
        name = surnames[i % 20] + given[(i * 7) % 20] + given[(i * 3 + 1) % 20]
        rows.append(
            {
                "id": f"P{i}",
                "name": name,
                "mobile": f"139{i:04d}{(i * 37) % 10000:04d}",
                "email": f"user{i}@example.com",
                "birth": f"19{60 + i % 40}-0{1 + i % 9}-1{i % 9}",
                "address": f"人民路{i}号",
                "postcode": f"{510000 + i:06d}",
            }
        )
    for i in range(0, 400, 20):  # 20 duplicates: other source key, formatted mobile, no email
        d = dict(rows[i], id=f"D{i}", email="")
        d["mobile"] = f"+86 {d['mobile'][:3]} {d['mobile'][3:7]} {d['mobile'][7:]}"
        rows.append(d)
    frame = pd.DataFrame(rows).astype("string")
    mapping = {
        "source_record_id": ["id"],
        "full_name": ["name"],
        "mobile": ["mobile"],
        "email": ["email"],
        "birth_date": ["birth"],
        "address": ["address"],
        "postcode": ["postcode"],
    }
    importer.run_import(users["steward"], importer.prepare("customers", frame, mapping, "crm"), match_duplicates=False)
    result = dedup.run(users["steward"], max_pairs_u=2e5)
    pairs = dedup.candidates(users["steward"], limit=1000)
    ids = dict(
        zip(
            warehouse.read("SELECT source_record_id k, customer_id v FROM customers")["k"],
            warehouse.read("SELECT source_record_id k, customer_id v FROM customers")["v"],
        )
    )
    expected = {(min(ids[f"P{i}"], ids[f"D{i}"]), max(ids[f"P{i}"], ids[f"D{i}"])) for i in range(0, 400, 20)}
    found = set(
        zip(
            pairs[pairs["match_probability"] >= 0.9]["customer_id_l"],
            pairs[pairs["match_probability"] >= 0.9]["customer_id_r"],
        )
    )
    assert found == expected and result.clusters == 20
    agreement = json.loads(pairs.iloc[0]["agreement"])
    assert {"full_name", "mobile", "birth_date"} <= set(agreement)
    # a new import of person P5 from another source is matched against the existing records
    new = pd.DataFrame([dict(rows[5], id="N5", email="")]).astype("string")
    r = importer.run_import(users["steward"], importer.prepare("customers", new, mapping, "tmall"))
    newest = warehouse.read(
        "SELECT customer_id_l, match_probability FROM dedup_candidates "
        "WHERE customer_id_r = :n AND match_probability >= 0.9",
        n=r.new_customer_ids[0],
    )
    assert r.duplicate_candidates >= 1 and newest["customer_id_l"].tolist() == [ids["P5"]]
    out = dedup.export(users["steward"], str(tmp_path / "pairs.csv"))
    exported = pd.read_csv(out["pairs_file"])
    assert {"source_record_id_l", "source_record_id_r", "match_probability"} <= set(exported.columns)
    assert (
        out["pairs"]
        == len(exported)
        == warehouse.scalar("SELECT count(*) FROM dedup_candidates WHERE match_probability >= 0.5")
    )
    assert out["cluster_rows"] == 40  # 20 clusters of two at p >= 0.9


# ---------------------------------------------------------------- role matrix (in lib, not just the UI)


def _actions(users_by_role):
    return {
        "update_customer": lambda u: ce.update_customer(u, 1, {"city": "广州市"}, ce._get(1)["version"]),
        "verify": lambda u: ce.verify(u, 1, ce._get(1)["version"]),
        "ignore_flag": lambda u: ce.ignore_flag(
            u,
            int(warehouse.scalar("SELECT min(flag_id) FROM quality_flags WHERE status = 'open'")),
            "checked with the customer",
        ),
        "quality_run": lambda u: quality.run(u),
        "queue": lambda u: review.items(u),
        "drilldown": lambda u: quality.failing_records(u, "email_valid"),
        "merge": lambda u: dedup.merge(u, 13, 14),
        "reject_pair": lambda u: dedup.reject(u, int(warehouse.scalar("SELECT min(pair_id) FROM dedup_candidates"))),
        "undo_edit": lambda u: ce.undo_edit(
            u, int(warehouse.scalar("SELECT max(audit_id) FROM audit_log WHERE action = 'customer.update'"))
        ),
    }


ACTIONS = list(_actions(None))


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "username, allowed", [("steward", True), ("admin", True), ("manager", False), ("marketing", False), ("lead", False)]
)
def test_stewardship_actions_by_role(stw_wh, users, action, username, allowed):
    quality.run(auth.SYSTEM)
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
            "match_weight, agreement) VALUES (1, 15, 16, 0.9, 9.0, '{}')"
        )
    ce.update_customer(auth.SYSTEM, 2, {"city": "广州市"}, 1)
    before = snapshot()
    run = _actions(users)[action]
    if allowed:
        run(users[username])
    else:
        with pytest.raises(auth.PermissionDenied):
            run(users[username])
        assert snapshot() == before
