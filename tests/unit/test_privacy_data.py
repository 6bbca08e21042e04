"""Privacy of stored data (issue 13 items 1-3, 8): one masking for nested JSON and history,
erasure driven by a registry of every place a person's data lives, ID numbers never in
plaintext at rest, role checks on the readers. Checked by looking at every column."""

from __future__ import annotations

import json

import bcrypt
import pytest

from lib.core import validation, warehouse
from lib.dashboards import customers
from lib.security import auth, privacy
from lib.stewardship import dedup, importer, quality, review
from lib.stewardship import edits as customer_edits
from tests import privacy_fixture as px

ROLES = {
    "manager": {"manager"},
    "marketing": {"marketing"},
    "steward": {"steward"},
    "admin": {"admin"},
    "lead": {"manager", "marketing"},
}
MASKED_ROLES = ("manager", "marketing", "lead")


def role(name: str) -> auth.User:
    return auth.User(name, name, frozenset(ROLES[name]))


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def world(warehouse_path, tmp_path):
    return px.build(tmp_path)


# ---------------------------------------------------------------- one masking for nested JSON

FLAG_DETAIL = json.dumps({"code": "id_number.checksum", "raw": "123456789012345678"})
MERGE_BEFORE = json.dumps(
    {
        "merged_id": 3,
        "survivor": {
            "email": "zhang@example.com",
            "mobile": "+8613812345678",
            "address": "建国路1号",
            "id_number_enc": "gAAAAABn" + "x" * 60,
            "id_number_hash": "ab" * 32,
            "id_number_last4": "002X",
        },
    }
)


@pytest.mark.parametrize("name", ROLES)
def test_nested_json_is_masked_for_every_role(name):
    user = role(name)
    detail = privacy.mask_value(user, FLAG_DETAIL, "id_number")
    assert json.loads(detail) == {"code": "id_number.checksum", "raw": "**************5678"}
    email = privacy.mask_value(user, {"code": "email.invalid", "raw": "bad-email"}, "email")
    assert email["raw"] == ("bad-email" if name in ("steward", "admin") else "***")
    before = json.loads(privacy.mask_value(user, MERGE_BEFORE))
    see = name in ("steward", "admin")
    assert before == {
        "merged_id": 3,
        "survivor": {
            "email": "zhang@example.com" if see else "z***@example.com",
            "mobile": "+8613812345678" if see else "+86 138****5678",
            "address": "建国路1号" if see else "建****",
            "id_number": "**************002X",
        },
    }


def test_a_frame_masks_json_columns_free_text_and_drops_secrets():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "before": [MERGE_BEFORE],
            "note": ["call 13812345678 re 11010519491231002X"],
            "id_number_hash": ["ab" * 32],
            "mobile": ["+8613812345678"],
        }
    )
    out = privacy.mask_frame(role("manager"), frame)
    assert list(out.columns) == ["before", "note", "mobile"]
    text = out.to_csv()
    for secret in ("zhang@", "13812345678", "11010519491231002X", "gAAAAA", "ab" * 32):
        assert secret not in text
    assert out["note"].iloc[0] == "call 138****5678 re **************002X"


def test_the_audit_log_keeps_edits_masked_and_undo_still_restores_them(world):
    steward = role("steward")
    entry = warehouse.one(
        "SELECT CAST(before AS VARCHAR) b, CAST(after AS VARCHAR) a FROM audit_log WHERE action = 'customer.update'"
    )
    assert json.loads(entry["b"])["address"] == "建*****"
    assert json.loads(entry["a"])["address"] == "望*****"
    with pytest.raises(customer_edits.StaleRecordError):  # P1 was merged into since
        customer_edits.undo_edit(
            steward, int(warehouse.scalar("SELECT audit_id FROM audit_log WHERE action = 'customer.update'"))
        )


# ---------------------------------------------------------------- Customer 360 per role


@pytest.mark.parametrize("name", ROLES)
def test_customer_360_masks_flag_details_history_and_notes_for_every_role(world, name):
    user = role(name)
    survivor = customers.customer_360(user, world["P1"])
    flagged = customers.customer_360(user, world["P4"])
    text = json.dumps([survivor.profile, flagged.profile, flagged.quality_flags], default=str, ensure_ascii=False)
    text += survivor.history.to_csv() + survivor.notes.to_csv() + flagged.history.to_csv()
    text += privacy.mask_frame(user, survivor.history).to_csv()  # the page's CSV download
    for secret in px.IDS + ("gAAAAA",):
        assert secret not in text, secret
    assert not any(len(w) == 64 for w in text.replace('"', " ").split()), "a keyed hash leaked"
    codes = {(f["field"], f["code"]): f["detail"] for f in flagged.quality_flags}
    assert codes[("id_number", "raw_value")] == "**************1230"
    assert json.loads(codes[("id_number", "import.id_number")]) == {
        "code": "id_number.checksum",
        "raw": "**************1230",
    }
    if name in MASKED_ROLES:
        for secret in px.CONTACTS:
            assert secret not in text, secret
        assert codes[("email", "raw_value")] == "w***@qq.com"
    else:
        assert codes[("email", "raw_value")] == "wxm@@qq.com"


# ---------------------------------------------------------------- readers check roles and mask


def test_readers_check_the_role_and_mask_for_it(world):
    manager, steward = role("manager"), role("steward")
    record = customer_edits.get(manager, world["P1"])
    assert record["mobile"] == "+86 138****5678" and record["id_number"] == "**************002X"
    assert not {"id_number_enc", "id_number_hash"} & set(record)
    assert customer_edits.get(steward, world["P1"])["mobile"] == "+8613812345678"
    flags = quality.open_flags(manager, world["P4"])
    assert all(px.OTHER_BAD_ID not in (d or "") and "wxm@@" not in (d or "") for d in flags["detail"])
    for call in (
        lambda: importer.quarantine(manager),
        lambda: review.flag(manager, 1),
        lambda: dedup.pair(manager, 1),
        lambda: dedup.compare(manager, 1, 2),
    ):
        with pytest.raises(auth.PermissionDenied):
            call()
    rows = importer.quarantine(steward)
    assert px.QUARANTINED_ID not in rows.to_csv()
    assert json.loads(rows["raw"].iloc[0])["id_number"] == "**************0012"
    flag_id = int(warehouse.scalar("SELECT flag_id FROM quality_flags WHERE field = 'id_number'"))
    assert px.OTHER_BAD_ID not in json.dumps(review.flag(steward, flag_id), default=str)


# ---------------------------------------------------------------- ID numbers at rest


def test_no_plaintext_id_number_anywhere_after_import_quarantine_release_and_audit(world):
    assert px.scan(px.IDS) == {}
    assert px.scan(["0123456789abcdef"[:0] + privacy.id_hash(px.QUARANTINED_ID)]) == {
        privacy.id_hash(px.QUARANTINED_ID): ["quarantine.raw"]
    }  # hashed for matching
    kept = {privacy.decrypt(t) for t in px.tokens()}
    assert {px.ID, px.BAD_ID, px.OTHER_BAD_ID, px.QUARANTINED_ID} <= kept
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'import.release'") == 1


def test_an_id_number_failing_its_check_is_kept_encrypted_hashed_and_flagged(world):
    row = warehouse.one(
        "SELECT id_number_enc, id_number_hash, id_number_last4, "
        "CAST(raw_values AS VARCHAR) AS raw FROM customers WHERE customer_id = :c",
        c=world["P4"],
    )
    assert privacy.decrypt(row["id_number_enc"]) == px.OTHER_BAD_ID
    assert row["id_number_hash"] == privacy.id_hash(px.OTHER_BAD_ID)
    assert row["id_number_last4"] == "1230"
    assert json.loads(row["raw"]) == {"email": "wxm@@qq.com", "id_number": "**************1230"}
    detail = warehouse.scalar(
        "SELECT CAST(detail AS VARCHAR) FROM quality_flags WHERE customer_id = :c AND field = 'id_number'",
        c=world["P4"],
    )
    assert json.loads(detail) == {"code": "id_number.checksum", "raw": "**************1230"}


def test_a_released_row_keeps_its_id_number_and_the_form_may_send_it_back_masked(warehouse_path, tmp_path):
    steward = role("steward")
    path = tmp_path / "q.csv"
    path.write_text(f"id,name,mobile,id_number\nQ9,,13700000009,{px.QUARANTINED_ID}\n", encoding="utf-8")
    importer.import_file(steward, "customers", path, "walkin", match_duplicates=False)
    shown = importer.quarantine(steward)
    raw = json.loads(shown["raw"].iloc[0])
    assert raw["id_number"] == "**************0012"
    raw["full_name"] = "孙悟空"
    importer.release(steward, int(shown["quarantine_id"].iloc[0]), raw)  # the form as shown
    token = warehouse.scalar("SELECT id_number_enc FROM customers WHERE source = 'walkin'")
    assert privacy.decrypt(token) == px.QUARANTINED_ID
    assert px.scan([px.QUARANTINED_ID]) == {}


def test_the_region_check_accepts_any_code_that_ever_existed():
    # born 1960 in 通州区, whose code 110112 exists since 1997: a real, valid number
    assert validation.resident_id(px.OLD_REGION_ID) == px.OLD_REGION_ID
    with pytest.raises(validation.FieldError) as exc:
        validation.resident_id("999999194912310025")  # no such code, right check digit
    assert exc.value.code == "id_number.region"


def test_an_old_valid_id_imports_without_a_flag(warehouse_path, tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        f"id,name,mobile,birth_date,id_number\nO1,赵老,13700000010,1960-01-01,{px.OLD_REGION_ID}\n", encoding="utf-8"
    )
    r = importer.import_file(role("steward"), "customers", path, "old", match_duplicates=False)
    assert (r.rows_loaded, r.rows_flagged) == (1, 0)
    row = warehouse.one("SELECT id_number_hash, id_number_last4 FROM customers")
    assert (row["id_number_hash"], row["id_number_last4"]) == (privacy.id_hash(px.OLD_REGION_ID), "0010")


# ---------------------------------------------------------------- erasure registry


def test_after_erasure_of_a_merged_customer_no_column_of_any_table_holds_her_values(world):
    values = list(px.PERSON.values())
    before = px.scan(values)
    # the scan finds her everywhere the registry names (so it is looking)
    places = {w.split(".")[0] for where in before.values() for w in where}
    assert {
        "customers",
        "merge_customer_snapshots",
        "quality_flags",
        "quarantine",
        "events",
        "customer_edit_values",
    } <= places
    result = privacy.erase_customer(role("admin"), world["P1"], "request #7 by letter")
    assert sorted(result["records"]) == sorted([world["P1"], world["P2"], world["P3"]])
    assert px.scan(values) == {}
    assert not {px.ID, px.BAD_ID} & {privacy.decrypt(t) for t in px.tokens()}
    assert px.scan([privacy.id_hash(px.ID), privacy.id_hash(px.BAD_ID)]) == {}
    # someone else's data is untouched
    assert px.scan(["13600000001", "wxm@@qq.com"]) != {}


def test_erasing_any_one_of_her_merged_records_erases_all_of_them(world):
    result = privacy.erase_customer(role("admin"), world["P2"], "request #8 by letter")
    assert sorted(result["records"]) == sorted([world["P1"], world["P2"], world["P3"]])
    assert px.scan(list(px.PERSON.values())) == {}


def test_every_text_and_json_column_is_in_the_registry_or_declared_not_personal(warehouse_path):
    cols = warehouse.read(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c "
        "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
        "WHERE c.schema_name = 'main' AND NOT t.temporary "
        "AND (c.data_type LIKE 'VARCHAR%' OR c.data_type IN ('JSON', 'BLOB'))"
    )
    personal = privacy.personal_columns()
    unknown = []
    for table, column in zip(cols["table_name"], cols["column_name"]):
        declared = privacy.NOT_PERSONAL.get(table, ((), ""))[0]
        if column not in personal.get(table, set()) and column not in declared and "*" not in declared:
            unknown.append(f"{table}.{column}")
    assert unknown == []
    for entry in privacy.ERASURE_REGISTRY:
        assert warehouse.query(entry.query)  # every entry has its query
        assert not set(entry.columns) & set(privacy.NOT_PERSONAL.get(entry.table, ((), ""))[0])
