"""Customers added, edited, deleted and restored by hand (lib/stewardship/records.py)."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pandas as pd
import pytest

from lib.core import validation, warehouse
from lib.dashboards import aggregates, metrics
from lib.marketing import audience, churn, clv, rfm, segments
from lib.security import auth, privacy
from lib.stewardship import edits, entry_rules, records
from tests import factories as f
from tests import marketing_fixture as mf
from tests.marketing_fixture import fresh_wh  # noqa: F401 - fixture

EVERYONE = {"op": "and", "conditions": []}
ID_NUMBER = "11010519491231002X"  # valid checksum, born 1949-12-31

VALID = {
    "full_name": "王小明",
    "gender": "M",
    "birth_date": "1949-12-31",
    "mobile": "138 0013 8000",
    "email": "Xiaoming.Wang@Example.com",
    "id_number": ID_NUMBER,
    "province": "广东省",
    "city": "深圳市",
    "address": "南山区科技园1号",
    "postcode": "518000",
}


def customer_count() -> int:
    return int(warehouse.scalar("SELECT count(*) FROM customers"))


def audit_rows(action: str) -> list[dict]:
    frame = warehouse.read(
        "SELECT username, entity_id, CAST(before AS VARCHAR) AS before, CAST(after AS VARCHAR) AS after, "
        "CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = :a ORDER BY audit_id",
        a=action,
    )
    return frame.to_dict("records")


@pytest.fixture
def wh(warehouse_path):
    with warehouse.transaction() as tx:
        f.customer(tx, 1, full_name="李四", mobile="+8613900000000", email="li.si@example.com")
    return warehouse_path


# ---------------------------------------------------------------- create


def test_a_valid_new_customer_is_stored_like_an_import(wh, users):
    cid = records.create_customer(users["steward"], VALID, channel="store")
    row = warehouse.one("SELECT * FROM customers WHERE customer_id = :c", c=cid)
    assert cid == 2
    assert (row["source"], row["source_record_id"], row["channel"], row["version"]) == ("manual", "M2", "store", 1)
    assert (row["family_name"], row["given_name"], row["name_pinyin"].split("|")[0]) == ("王", "小明", "wang xiao ming")
    assert row["mobile"] == "+8613800138000"
    assert row["email"] == "Xiaoming.Wang@example.com"
    assert str(row["birth_date"])[:10] == "1949-12-31"
    assert (row["country"], row["customer_type"], row["registered_inferred"]) == ("CN", "B2C", False)
    assert row["registered_at"] is not None and row["deleted_at"] is None


def test_the_id_number_is_encrypted_hashed_and_last_four_as_the_importer_stores_it(wh, users):
    cid = records.create_customer(users["steward"], VALID)
    row = warehouse.one("SELECT * FROM customers WHERE customer_id = :c", c=cid)
    assert row["id_number_last4"] == "002X"
    assert row["id_number_hash"] == privacy.id_hash(ID_NUMBER)
    assert privacy.decrypt(row["id_number_enc"]) == ID_NUMBER
    assert ID_NUMBER not in json.dumps({k: str(v) for k, v in row.items()}).replace(row["id_number_enc"], "")
    (entry,) = audit_rows("customer.create")
    assert ID_NUMBER not in entry["after"] and row["id_number_enc"] not in entry["after"]
    assert json.loads(entry["after"])["mobile"] != "+8613800138000"  # masked in the audit log
    assert entry["username"] == "steward" and entry["entity_id"] == str(cid)
    assert json.loads(entry["detail"]) == {
        "source": "manual",
        "channel": "store",
        "flags": [],
        "duplicates_shown": [],
    }


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("full_name", "", "required.missing"),
        ("mobile", "12345", "mobile.invalid"),
        ("email", "not-an-email", "email.invalid"),
        ("birth_date", "2099-01-01", "date.future"),
        ("id_number", "110105194912310021", "id_number.checksum"),
        ("postcode", "51800", "postcode.invalid"),
        ("gender", "X", "gender.invalid"),
        ("customer_type", "B2X", "customer_type.invalid"),
        ("uscc", "123", "uscc.invalid"),
    ],
)
def test_each_invalid_field_gives_its_own_error_and_writes_nothing(wh, users, field, value, code):
    before, audits = customer_count(), warehouse.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(validation.ValidationError) as exc:
        records.create_customer(users["steward"], {**VALID, field: value})
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]
    assert customer_count() == before
    assert warehouse.scalar("SELECT count(*) FROM audit_log") == audits


def test_a_b2b_customer_needs_a_company(wh, users):
    with pytest.raises(validation.ValidationError) as exc:
        records.create_customer(users["steward"], {**VALID, "customer_type": "B2B"})
    assert exc.value.by_field("en") == {"company": "Business customers need a company name."}


def test_the_entry_rules_of_the_manual_source_apply(wh, users):
    entry_rules.save(users["steward"], "manual", "customers", {"full_name": "quarantine", "contact": "quarantine"})
    no_contact = {k: v for k, v in VALID.items() if k not in ("mobile", "email")}
    with pytest.raises(validation.ValidationError) as exc:
        records.create_customer(users["steward"], no_contact)
    assert [(e.field, e.code) for e in exc.value.errors] == [("mobile", "required.contact")]
    entry_rules.save(users["steward"], "manual", "customers", {"contact": "flag", "address": "flag"})
    cid = records.create_customer(users["steward"], {**no_contact, "address": ""})
    flags = warehouse.read(
        "SELECT kind, rule_id, field, severity FROM quality_flags WHERE customer_id = :c ORDER BY rule_id", c=cid
    )
    assert flags.values.tolist() == [
        ["import", "import.address", "address", "medium"],
        ["import", "import.contact", "contact", "high"],
    ]


def test_a_likely_duplicate_is_shown_before_saving_and_nothing_is_written(wh, users):
    before = customer_count()
    with pytest.raises(records.LikelyDuplicates) as exc:
        records.create_customer(users["steward"], {**VALID, "mobile": "13900000000", "email": ""})
    matches = exc.value.matches
    assert matches["customer_id"].tolist() == [1]
    assert matches["matched"].tolist() == ["mobile"]
    assert matches["mobile"].tolist() == ["+8613900000000"]  # a steward sees contacts
    assert customer_count() == before
    assert audit_rows("customer.create") == []


def test_the_duplicate_check_masks_contacts_for_the_caller_and_matches_name_and_birth_date(wh, users):
    with warehouse.transaction() as tx:
        f.customer(tx, 5, full_name="王小明", name_pinyin="wang xiao ming|wxm|wangxiaoming", birth_date="1949-12-31")
    check = records.check_new(users["admin"], {**VALID, "mobile": "", "email": ""})
    assert check.duplicates["customer_id"].tolist() == [5]
    assert check.duplicates["matched"].tolist() == ["name_birth_date, name_city"]  # both in 深圳市
    assert "id_number" not in check.clean and check.clean["id_number_last4"] == "002X"


def test_saving_anyway_records_which_duplicates_were_shown(wh, users):
    cid = records.create_customer(users["steward"], {**VALID, "email": "li.si@example.com"}, allow_duplicates=True)
    (entry,) = audit_rows("customer.create")
    assert json.loads(entry["detail"])["duplicates_shown"] == [1]
    assert warehouse.scalar("SELECT count(*) FROM customers WHERE customer_id = :c", c=cid) == 1


def test_managers_and_marketing_cannot_create(wh, users):
    for name in ("manager", "marketing", "lead"):
        with pytest.raises(auth.PermissionDenied):
            records.create_customer(users[name], VALID)
    assert customer_count() == 1


# ---------------------------------------------------------------- edit


def test_an_edit_is_versioned_kept_field_by_field_and_undone(wh, users):
    after = records.update_profile(users["steward"], 1, {"city": "广州市", "address": "天河路1号"}, 1)
    assert (after["city"], after["address"], after["version"]) == ("广州市", "天河路1号", 2)
    kept = warehouse.one("SELECT CAST(before AS VARCHAR) AS b, CAST(after AS VARCHAR) AS a FROM customer_edit_values")
    assert json.loads(kept["b"]) == {"city": "深圳市", "address": None, "version": 1}
    assert json.loads(kept["a"]) == {"city": "广州市", "address": "天河路1号", "version": 2}
    (entry,) = audit_rows("customer.update")
    assert json.loads(entry["detail"])["fields"] == ["address", "city"]
    audit_id = warehouse.scalar("SELECT audit_id FROM audit_log WHERE action = 'customer.update'")
    undone = edits.undo_edit(users["steward"], audit_id)
    assert (undone["city"], undone["address"], undone["version"]) == ("深圳市", None, 3)


def test_an_invalid_edit_names_the_field_and_changes_nothing(wh, users):
    with pytest.raises(validation.ValidationError) as exc:
        records.update_profile(users["steward"], 1, {"email": "li.si@", "city": "广州市"}, 1)
    assert [(e.field, e.code) for e in exc.value.errors] == [("email", "email.invalid")]
    row = warehouse.one("SELECT city, email, version FROM customers WHERE customer_id = 1")
    assert row == {"city": "深圳市", "email": "li.si@example.com", "version": 1}


def test_a_concurrent_edit_is_refused_with_both_values(wh, users):
    records.update_profile(users["admin"], 1, {"city": "广州市"}, 1)  # someone saved first
    with pytest.raises(records.EditConflict) as exc:
        records.update_profile(users["steward"], 1, {"city": "珠海市", "mobile": "13700000000"}, 1)
    assert exc.value.yours == {"city": "珠海市", "mobile": "13700000000"}
    assert exc.value.current == {"city": "广州市", "mobile": "+8613900000000"}
    assert exc.value.version == 2
    assert warehouse.one("SELECT city, version FROM customers WHERE customer_id = 1") == {
        "city": "广州市",
        "version": 2,
    }


def test_an_edit_to_another_customers_mobile_shows_the_duplicate_first(wh, users):
    with warehouse.transaction() as tx:
        f.customer(tx, 2, full_name="赵六", mobile="+8613700000000")
    with pytest.raises(records.LikelyDuplicates) as exc:
        records.update_profile(users["steward"], 1, {"mobile": "13700000000"}, 1)
    assert exc.value.matches["customer_id"].tolist() == [2]
    after = records.update_profile(users["steward"], 1, {"mobile": "13700000000"}, 1, allow_duplicates=True)
    assert after["mobile"] == "+8613700000000"


def test_changed_fields_sends_only_what_the_form_changed():
    loaded = {"full_name": "李四", "city": "深圳市", "birth_date": datetime(1990, 1, 2).date(), "gender": None}
    submitted = {"full_name": "李四", "city": "", "birth_date": "1990-01-02", "gender": "", "id_number": ""}
    assert records.changed_fields(loaded, submitted) == {"city": None}
    assert records.changed_fields(loaded, {**submitted, "id_number": ID_NUMBER}) == {
        "city": None,
        "id_number": ID_NUMBER,
    }


# ---------------------------------------------------------------- delete and restore


@pytest.fixture
def mk(fresh_wh):
    """The marketing fixture (13 customers, 12 live) with its RFM snapshot and aggregates."""
    rfm.refresh(auth.SYSTEM, mf.AS_OF)
    aggregates.refresh()
    return fresh_wh


def sms_export(user) -> list[int]:
    result = audience.export(user, EVERYONE, "sms", "csv", mf.AS_OF)
    return sorted(pd.read_csv(io.BytesIO(result.data), encoding="utf-8-sig")["customer_id"])


def test_a_deleted_customer_leaves_kpis_segments_and_audiences_then_comes_back(mk, users):
    steward, marketing = users["steward"], users["marketing"]
    assert metrics.home_kpis(mf.AS_OF)["customers"] == 12
    assert segments.stats(EVERYONE, mf.AS_OF)["members"] == 12
    assert sms_export(marketing) == [1, 2, 5, 7]
    version = warehouse.scalar("SELECT version FROM customers WHERE customer_id = 5")

    after = records.delete_customer(steward, 5, "asked to be removed from the CRM", version)

    assert after["deleted_at"] is not None and after["version"] == version + 1
    assert metrics.home_kpis(mf.AS_OF)["customers"] == 11  # aggregates refreshed by the hook
    assert segments.stats(EVERYONE, mf.AS_OF)["members"] == 11
    assert 5 not in segments.member_ids(EVERYONE, mf.AS_OF)
    assert sms_export(marketing) == [1, 2, 7]
    assert rfm.summary(mf.AS_OF)["customers"].sum() == 9

    records.restore_customer(steward, 5, None, version + 1)

    assert metrics.home_kpis(mf.AS_OF)["customers"] == 12
    assert segments.stats(EVERYONE, mf.AS_OF)["members"] == 12
    assert sms_export(marketing) == [1, 2, 5, 7]
    assert rfm.summary(mf.AS_OF)["customers"].sum() == 10


def test_delete_and_restore_are_audited_with_the_reason(mk, users):
    records.delete_customer(users["steward"], 5, "duplicate typed by a shop", 1)
    info = records.deletion(users["manager"], 5)
    assert (info["username"], info["reason"], info["version"]) == ("steward", "duplicate typed by a shop", 2)
    listed = records.recently_deleted(users["steward"])
    assert listed[["customer_id", "full_name", "deleted_by", "reason"]].values.tolist() == [
        [5, "客户5", "steward", "duplicate typed by a shop"]
    ]
    records.restore_customer(users["admin"], 5, "deleted by mistake", 2)
    assert records.deletion(users["manager"], 5) is None
    assert records.recently_deleted(users["steward"]).empty
    (deleted,) = audit_rows("customer.delete")
    (restored,) = audit_rows("customer.restore")
    assert (deleted["username"], deleted["entity_id"]) == ("steward", "5")
    assert json.loads(deleted["detail"]) == {"reason": "duplicate typed by a shop"}
    assert json.loads(deleted["before"])["deleted_at"] is None and json.loads(deleted["after"])["version"] == 2
    assert (restored["username"], json.loads(restored["detail"])) == ("admin", {"reason": "deleted by mistake"})
    assert json.loads(restored["after"]) == {"deleted_at": None, "version": 3}


def test_a_delete_needs_a_reason_and_the_current_version(mk, users):
    with pytest.raises(validation.ValidationError):
        records.delete_customer(users["steward"], 5, "no", 1)
    with pytest.raises(edits.StaleRecordError):
        records.delete_customer(users["steward"], 5, "a good reason", 7)
    with pytest.raises(records.RecordError):
        records.restore_customer(users["steward"], 5, None, 1)  # not deleted
    assert warehouse.scalar("SELECT deleted_at FROM customers WHERE customer_id = 5") is None
    assert audit_rows("customer.delete") == []


@pytest.mark.parametrize("name", ["manager", "marketing", "lead"])
def test_other_roles_cannot_delete_or_restore(mk, users, name):
    with pytest.raises(auth.PermissionDenied):
        records.delete_customer(users[name], 5, "not my job to do", 1)
    records.delete_customer(users["steward"], 5, "asked to be removed", 1)
    with pytest.raises(auth.PermissionDenied):
        records.restore_customer(users[name], 5, "bring it back", 2)
    assert warehouse.scalar("SELECT deleted_at IS NOT NULL FROM customers WHERE customer_id = 5")
    assert [r["username"] for r in audit_rows("access.denied")] == [name, name]


def test_a_deleted_customer_cannot_be_edited_and_leaves_search_and_duplicates(mk, users):
    from lib.dashboards import customers

    records.delete_customer(users["steward"], 5, "asked to be removed", 1)
    with pytest.raises(edits.EditError):
        records.update_profile(users["steward"], 5, {"city": "广州市"}, 2)
    assert customers.search(users["steward"], "5").total == 0
    mobile = warehouse.scalar("SELECT mobile FROM customers WHERE customer_id = 5")
    check = records.check_new(users["steward"], {"full_name": "某人", "mobile": mobile})
    assert 5 not in check.duplicates["customer_id"].tolist()


def test_scores_of_a_deleted_customer_are_left_out_of_lists_and_exports(mk, users, tmp_path):
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO churn_scores (customer_id, as_of, model_id, probability, risk_tier, reasons) "
            "SELECT customer_id, DATE '2026-06-30', 1, customer_id / 100.0, 'high', ['r'] FROM customers "
            "WHERE customer_id IN (1, 5)"
        )
        tx.run(
            "INSERT INTO clv_scores (customer_id, clv_model_id, as_of, horizon_days, p_alive, expected_purchases, "
            "expected_avg_value, expected_value) SELECT customer_id, 1, DATE '2026-06-30', 365, 0.9, 2, 100, "
            "customer_id * 10.0 FROM customers WHERE customer_id IN (1, 5)"
        )
    records.delete_customer(users["steward"], 5, "asked to be removed", 1)
    assert churn.top_scores(users["marketing"], ["high"], 10)["customer_id"].tolist() == [1]
    assert churn.tier_summary()["customers"].tolist() == [1]
    assert clv.top_customers(users["marketing"], 10)["customer_id"].tolist() == [1]
    assert clv.by_segment()["customers"].sum() == 1
    out = tmp_path / "scores.csv"
    assert churn.export_scores(users["marketing"], out) == 1
    assert clv.export_scores(users["marketing"], out) == 1
    records.restore_customer(users["steward"], 5, None, 2)
    assert churn.top_scores(users["marketing"], ["high"], 10)["customer_id"].tolist() == [5, 1]
    assert clv.top_customers(users["marketing"], 10)["customer_id"].tolist() == [5, 1]


def test_pairs_and_clusters_with_a_deleted_customer_leave_the_duplicates_lists_and_exports(mk, users, tmp_path):
    from lib.stewardship import dedup

    with warehouse.transaction() as tx:
        for left, right in ((1, 5), (2, 3)):
            tx.run(
                "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
                "match_weight, agreement) VALUES (1, :l, :r, 0.97, 9.1, '{}')",
                l=left,
                r=right,
            )
        tx.run("INSERT INTO dedup_clusters (run_id, cluster_id, customer_id) VALUES (1, 1, 1), (1, 1, 5)")
    records.delete_customer(users["steward"], 5, "asked to be removed", 1)
    pairs = dedup.candidates(users["steward"])
    assert pairs[["customer_id_l", "customer_id_r"]].values.tolist() == [[2, 3]]
    assert dedup.candidate_count() == 1
    result = dedup.export(users["steward"], str(tmp_path / "pairs.csv"))
    assert (result["pairs"], result["cluster_rows"]) == (1, 1)
