"""Privacy: audited reveal, key rotation, consent history, data-subject export and erasure."""

from __future__ import annotations

import json
from datetime import datetime

import bcrypt
import pytest
from cryptography.fernet import Fernet

from lib.security import auth, privacy
from lib.core import warehouse
from tests import factories as f

ID_NUMBER = "11010519491231002X"
OLD_KEY = "T8R4XUbzGv3rJ2a0G2f6vWc0m9V0G2wq1pQW0m3X6yI="  # the test key from tests/conftest.py
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    """Cheap hashes for the demo users created per test (cost is not what these tests test)."""
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def person(warehouse_path):
    """Customer 1 (张三) with an ID number, contacts, two orders (¥100 + ¥250), a complaint note,
    an SMS consent, a tag; customer 2 is a duplicate merged into 1; customer 3 is someone else."""
    with warehouse.transaction() as tx:
        f.customer(
            tx,
            1,
            mobile="+8613812345678",
            email="zhang.san@example.com",
            id_number_enc=privacy.encrypt(ID_NUMBER),
            id_number_hash=privacy.id_hash(ID_NUMBER),
            id_number_last4="002X",
            birth_date=datetime(1949, 12, 31).date(),
            address="朝阳区建国路1号",
            postcode="100022",
            district="朝阳区",
        )
        f.customer(tx, 2, mobile="+8613812345679", full_name="张三", merged_into=1)
        f.customer(
            tx,
            3,
            mobile="+8613900000000",
            full_name="李四",
            id_number_enc=privacy.encrypt("110105195001010011"),
            id_number_last4="0011",
        )
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
        f.order(tx, 1, datetime(2024, 3, 1), 250.0)
        f.order(tx, 3, datetime(2024, 3, 1), 40.0)
        f.event(tx, 1, "complaint", datetime(2024, 3, 2), note="张三 13812345678 投诉物流")
        f.consent(tx, 1, "sms", "granted", datetime(2024, 1, 1))
        f.tag(tx, 1, "vip")
        tx.run(
            "INSERT INTO quarantine (kind, source, source_record_id, raw, reasons) VALUES"
            " ('customers', 'test', 'T1', '{\"mobile\": \"138-1234-5678x\"}', '[]')"
        )
    return 1


def audit_entries(action: str) -> list[dict]:
    frame = warehouse.read(
        "SELECT username, entity_id, CAST(before AS VARCHAR) AS before,"
        " CAST(after AS VARCHAR) AS after, CAST(detail AS VARCHAR) AS detail"
        " FROM audit_log WHERE action = :a ORDER BY audit_id",
        a=action,
    )
    return [
        {k: (json.loads(v) if k in ("before", "after", "detail") and v else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


# ---------------------------------------------------------------- reveal


def test_admin_reveals_an_id_number_with_a_reason_and_it_is_audited(person, users):
    assert privacy.reveal_id_number(users["admin"], "1", "customer verified by phone") == ID_NUMBER
    [entry] = audit_entries("pii.reveal")
    assert entry["username"] == "admin" and entry["entity_id"] == "1"
    assert entry["detail"] == {"field": "id_number", "reason": "customer verified by phone", "found": True}


@pytest.mark.parametrize("reason", [None, "", "   ", "why", "a\n\tb"])
def test_a_reveal_without_a_real_reason_is_refused_and_not_audited(person, users, reason):
    with pytest.raises(privacy.PrivacyError, match="Give a reason"):
        privacy.reveal_id_number(users["admin"], 1, reason)
    assert audit_entries("pii.reveal") == []


@pytest.mark.parametrize("role", ["manager", "marketing", "steward", "lead"])
def test_only_admins_may_reveal(person, users, role):
    with pytest.raises(auth.PermissionDenied):
        privacy.reveal_id_number(users[role], 1, "customer verified by phone")
    assert audit_entries("pii.reveal") == []
    assert audit_entries("access.denied")[0]["detail"] == {"action": "reveal_id_number"}


def test_revealing_an_unknown_customer_says_so(person, users):
    with pytest.raises(privacy.PrivacyError, match="no customer 999"):
        privacy.reveal_id_number(users["admin"], 999, "customer verified by phone")


def test_the_summary_masks_contacts_for_roles_without_contact_rights(person, users):
    masked = privacy.subject_summary(users["manager"], 1)
    assert masked["mobile"] == "+86 138****5678"
    assert masked["email"] == "z***@example.com"
    assert masked["id_number"] == "**************002X"
    assert privacy.subject_summary(users["steward"], 1)["mobile"] == "+8613812345678"
    assert "id_number_enc" not in masked and masked["orders"] == 2


# ---------------------------------------------------------------- key rotation


def test_rotation_re_encrypts_every_row_so_the_old_key_can_go(person, users, monkeypatch):
    monkeypatch.setenv("C360_FIELD_KEYS", f"{NEW_KEY},{OLD_KEY}")
    assert privacy.undecryptable_with_newest_key() == 2
    result = privacy.rotate_keys(users["admin"], batch_size=1)
    assert result == {"rows_rotated": 2, "rows_changed_meanwhile": 0, "batches": 2, "keys_configured": 2}
    assert privacy.undecryptable_with_newest_key() == 0
    monkeypatch.setenv("C360_FIELD_KEYS", NEW_KEY)  # the old key is gone
    assert privacy.reveal_id_number(users["admin"], 1, "after the rotation") == ID_NUMBER
    assert privacy.reveal_id_number(users["admin"], 3, "after the rotation") == "110105195001010011"
    assert audit_entries("keys.rotate")[0]["detail"]["rows_rotated"] == 2


def test_a_row_edited_during_rotation_keeps_the_edit(person, users, monkeypatch):
    monkeypatch.setenv("C360_FIELD_KEYS", f"{NEW_KEY},{OLD_KEY}")
    import pandas as pd

    stale = warehouse.one("SELECT id_number_enc FROM customers WHERE customer_id = 1")["id_number_enc"]
    edited = privacy.encrypt("110105194912310021")  # a steward corrects the number meanwhile
    with warehouse.transaction() as tx:
        tx.run("UPDATE customers SET id_number_enc = :v WHERE customer_id = 1", v=edited)
    frame = pd.DataFrame(
        {"customer_id": [1], "old_token": [stale], "new_token": [privacy.cipher().rotate(stale.encode()).decode()]}
    )
    assert privacy._apply_rotation(frame) == 0
    assert privacy.reveal_id_number(users["admin"], 1, "check the edit") == "110105194912310021"


def test_rotation_stops_with_a_clear_message_on_a_value_no_key_decrypts(person, users, monkeypatch):
    monkeypatch.setenv("C360_FIELD_KEYS", NEW_KEY)  # old key dropped too early
    with pytest.raises(privacy.PrivacyError, match="Customer 1's ID number cannot be decrypted"):
        privacy.rotate_keys(users["admin"])


@pytest.mark.parametrize("role", ["manager", "marketing", "steward"])
def test_only_admins_rotate_keys(person, users, role, monkeypatch):
    monkeypatch.setenv("C360_FIELD_KEYS", f"{NEW_KEY},{OLD_KEY}")
    with pytest.raises(auth.PermissionDenied):
        privacy.rotate_keys(users[role])
    assert privacy.undecryptable_with_newest_key() == 2


# ---------------------------------------------------------------- consent


def test_consent_changes_keep_history_and_the_latest_row_is_in_force(person, users):
    privacy.record_consent(users["steward"], 1, "sms", "withdrawn", "call centre")
    privacy.record_consent(users["admin"], 1, "email", "granted", "signup form")
    history = privacy.consent_history(users["manager"], 1)
    assert history[["channel", "status", "source"]].values.tolist() == [
        ["email", "granted", "signup form"],
        ["sms", "withdrawn", "call centre"],
        ["sms", "granted", "test"],
    ]
    current = privacy.consent_current(users["manager"], 1)
    assert dict(zip(current["channel"], current["status"])) == {"email": "granted", "sms": "withdrawn"}
    assert history["recorded_by"].tolist()[:2] == ["admin", "steward"]
    [first, second] = audit_entries("consent.record")
    assert first["before"] == {"channel": "sms", "status": "granted"}
    assert first["after"] == {"channel": "sms", "status": "withdrawn", "source": "call centre"}
    assert second["before"] == {"channel": "email", "status": None}


def test_a_withdrawal_takes_effect_at_once_for_contact_decisions(person, users):
    assert privacy.contactable([1, 3], "sms") == {1}
    privacy.record_consent(users["steward"], 1, "sms", "withdrawn", "unsubscribe link")
    assert privacy.contactable([1, 3], "sms") == set()
    assert (
        warehouse.scalar(
            "SELECT count(*) FROM consent_current WHERE customer_id = 1 AND channel = 'sms' AND status = 'granted'"
        )
        == 0
    )


def test_the_later_of_two_rows_with_the_same_time_wins(person, users):
    same = datetime(2025, 5, 5, 10, 0)
    privacy.record_consent(users["steward"], 1, "phone", "granted", "store", recorded_at=same)
    privacy.record_consent(users["steward"], 1, "phone", "withdrawn", "store", recorded_at=same)
    assert privacy.contactable([1], "phone") == set()


@pytest.mark.parametrize(
    "channel, status, source, message",
    [
        ("fax", "granted", "store", "Channel must be one of"),
        ("sms", "maybe", "store", "Status must be one of"),
        ("sms", "granted", "  ", "where the consent was captured"),
        ("sms", "granted", "x" * 101, "where the consent was captured"),
    ],
)
def test_invalid_consent_is_refused_and_nothing_is_written(person, users, channel, status, source, message):
    with pytest.raises(privacy.PrivacyError, match=message):
        privacy.record_consent(users["steward"], 1, channel, status, source)
    assert warehouse.scalar("SELECT count(*) FROM consents") == 1


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_managers_and_marketers_cannot_change_consent(person, users, role):
    with pytest.raises(auth.PermissionDenied):
        privacy.record_consent(users[role], 1, "sms", "withdrawn", "call centre")
    assert warehouse.scalar("SELECT count(*) FROM consents") == 1


# ---------------------------------------------------------------- subject export


def test_the_subject_export_holds_everything_about_the_person_and_nothing_else(person, users):
    privacy.reveal_id_number(users["admin"], 1, "identity check before export")
    data = privacy.export_subject(users["admin"], 1)
    json.dumps(data)  # plain JSON, nothing exotic
    tables = data["tables"]
    assert [r["customer_id"] for r in tables["customers"]] == [1, 2]  # the merged duplicate too
    assert tables["customers"][0]["id_number"] == ID_NUMBER
    assert "id_number_enc" not in tables["customers"][0]
    assert "id_number_hash" not in tables["customers"][0]
    assert sorted(float(o["amount"]) for o in tables["orders"]) == [100.0, 250.0]
    assert {e["event_type"] for e in tables["events"]} == {"purchase", "complaint"}
    assert [t["tag"] for t in tables["tags"]] == ["vip"]
    assert [c["channel"] for c in tables["consents"]] == ["sms"]
    assert data["quarantine"][0]["source_record_id"] == "T1"
    assert [a["action"] for a in data["audit_log"]] == ["pii.reveal"]
    assert data["audit_log"][0]["detail"]["reason"] == "identity check before export"
    assert "李四" not in json.dumps(data, ensure_ascii=False)
    [entry] = audit_entries("privacy.export")
    assert entry["detail"]["rows"]["orders"] == 2 and entry["detail"]["rows"]["customers"] == 2


def test_the_subject_export_includes_tables_added_by_later_migrations(person, users):
    with warehouse.transaction() as tx:
        tx.run("CREATE TABLE loyalty_points (customer_id BIGINT, points INTEGER)")
        tx.run("INSERT INTO loyalty_points VALUES (1, 120), (3, 5)")
    assert privacy.export_subject(users["admin"], 1)["tables"]["loyalty_points"] == [{"customer_id": 1, "points": 120}]


@pytest.mark.parametrize("role", ["manager", "marketing", "steward"])
def test_only_admins_export_subject_data(person, users, role):
    with pytest.raises(auth.PermissionDenied):
        privacy.export_subject(users[role], 1)


# ---------------------------------------------------------------- erasure


def totals() -> tuple:
    return (
        warehouse.scalar("SELECT count(*) FROM customers"),
        float(warehouse.scalar("SELECT sum(amount) FROM orders")),
        warehouse.scalar("SELECT count(*) FROM events"),
        warehouse.scalar("SELECT count(*) FROM orders WHERE customer_id = 1"),
    )


def test_erasure_anonymises_the_person_and_keeps_every_total(person, users):
    before = totals()
    result = privacy.erase_customer(users["admin"], 1, "request #2026-117 by e-mail")
    assert result["records"] == [1, 2]
    assert totals() == before == (3, 390.0, 4, 2)  # 3 purchases + 1 complaint
    row = warehouse.one("SELECT * FROM customers WHERE customer_id = 1")
    for field in (
        "family_name",
        "given_name",
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
    ):
        assert row[field] is None, field
    assert row["full_name"] == privacy.ERASED_NAME and row["erased_at"] is not None
    assert row["version"] == 2
    assert (row["province"], row["city"], row["gender"], row["channel"]) == ("广东省", "深圳市", "M", "web")
    dup = warehouse.one("SELECT mobile, full_name, erased_at FROM customers WHERE customer_id = 2")
    assert dup["mobile"] is None and dup["full_name"] == privacy.ERASED_NAME
    assert warehouse.scalar("SELECT count(*) FROM events WHERE note IS NOT NULL") == 0
    assert json.loads(warehouse.scalar("SELECT CAST(raw AS VARCHAR) FROM quarantine")) == {"erased": True}
    assert privacy.contactable([1], "sms") == set()
    other = warehouse.one("SELECT mobile, id_number_enc FROM customers WHERE customer_id = 3")
    assert other["mobile"] == "+8613900000000" and other["id_number_enc"] is not None


def test_the_erasure_audit_names_fields_not_values(person, users):
    privacy.erase_customer(users["admin"], 1, "request #2026-117 by e-mail")
    [entry] = audit_entries("customer.erase")
    text = json.dumps(entry, ensure_ascii=False)
    for secret in ("13812345678", "zhang.san", ID_NUMBER, "建国路", "张"):
        assert secret not in text
    assert "mobile" in entry["before"]["fields_cleared"]["1"]
    assert entry["detail"]["reason"] == "request #2026-117 by e-mail"
    assert entry["detail"]["records"] == [1, 2]


def test_an_erased_customer_cannot_be_erased_again_or_consent_again(person, users):
    privacy.erase_customer(users["admin"], 1, "request #2026-117 by e-mail")
    with pytest.raises(privacy.PrivacyError, match="already erased"):
        privacy.erase_customer(users["admin"], 1, "second request")
    with pytest.raises(privacy.PrivacyError, match="erased"):
        privacy.record_consent(users["steward"], 1, "sms", "granted", "store")


@pytest.mark.parametrize("role", ["manager", "marketing", "steward"])
def test_only_admins_erase_and_a_refusal_changes_nothing(person, users, role):
    with pytest.raises(auth.PermissionDenied):
        privacy.erase_customer(users[role], 1, "request #2026-117 by e-mail")
    assert warehouse.scalar("SELECT mobile FROM customers WHERE customer_id = 1") == "+8613812345678"


def test_erasure_needs_a_reason(person, users):
    with pytest.raises(privacy.PrivacyError, match="Give a reason"):
        privacy.erase_customer(users["admin"], 1, " ")
    assert warehouse.scalar("SELECT erased_at FROM customers WHERE customer_id = 1") is None


def test_a_withdrawal_leaves_the_next_audience_export_at_once(person, users):
    from lib.marketing import audience
    import io

    import pandas as pd

    everyone = {"op": "and", "conditions": []}

    def exported() -> set[int]:
        data = audience.export(users["admin"], everyone, "sms").data
        return set(pd.read_csv(io.BytesIO(data))["customer_id"]) if data.strip() else set()

    assert 1 in exported()
    privacy.record_consent(users["steward"], 1, "sms", "withdrawn", "unsubscribe link")
    assert 1 not in exported()
