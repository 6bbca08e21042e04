"""Backups: snapshot + manifest, verify, restore drill, restore with identical checksums,
retention, credentials included, audit trail kept across a restore."""

from __future__ import annotations

import json
from datetime import datetime

import bcrypt
import pytest

from lib.security import auth, privacy
from lib.admin import backup
from lib.core import warehouse
from lib.admin import users as accounts
from lib.admin import setting_changes
from tests import factories as f


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def filled(warehouse_path, tmp_path, monkeypatch):
    """Two customers with orders, events, consent and a tag; snapshots go to tmp_path/backups."""
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(
            tx, 1, mobile="+8613812345678", id_number_enc=privacy.encrypt("11010519491231002X"), id_number_last4="002X"
        )
        f.customer(tx, 2, full_name="李四")
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
        f.order(tx, 2, datetime(2024, 3, 1), 60.5)
        f.consent(tx, 1, "sms")
        f.tag(tx, 2, "vip")
    return tmp_path / "backups"


def without(checksums: dict, *tables: str) -> dict:
    return {k: v for k, v in checksums.items() if k not in tables}


def test_a_snapshot_records_every_table_with_rows_and_checksums_credentials_included(filled, users):
    live = backup.live_checksums()
    m = backup.create(users["admin"], note="first")
    assert m["tables"] == live
    assert m["tables"]["customers"]["rows"] == 2 and m["tables"]["orders"]["rows"] == 2
    assert m["tables"]["app_users"]["rows"] == 5 and m["credentials"] == {"table": "app_users", "users": 5}
    folder = filled / m["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "warehouse.duckdb.enc"]
    assert json.loads((folder / "manifest.json").read_text())["file_sha256"] == m["file_sha256"]
    assert not list(filled.glob("*.partial"))
    assert [s["id"] for s in backup.list_snapshots(users["admin"])] == [m["id"]]


def test_verify_and_the_drill_pass_on_a_good_snapshot(filled, users):
    m = backup.create(users["admin"])
    verified = backup.verify(users["admin"], m["id"])
    drilled = backup.drill(users["admin"])
    assert verified.passed and drilled.passed
    assert drilled.snapshot_id == m["id"]
    assert {r["table"] for r in drilled.rows()} == set(m["tables"])
    assert all(r["ok"] for r in drilled.rows())
    assert drilled.checks == {
        "manifest_mac": True,
        "file_sha256": True,
        "decrypts": True,
        "credentials_store": True,
        "keys_decrypt": True,
    }
    details = warehouse.read(
        "SELECT action, CAST(detail AS VARCHAR) AS d FROM audit_log WHERE action LIKE 'backup.%' ORDER BY audit_id"
    )
    assert details["action"].tolist() == ["backup.create", "backup.verify", "backup.drill"]
    assert json.loads(details["d"].iloc[-1])["passed"] is True


def test_the_drill_fails_on_a_damaged_snapshot_file(filled, users):
    m = backup.create(users["admin"])
    file = filled / m["id"] / "warehouse.duckdb.enc"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    result = backup.drill(users["admin"])
    assert not result.passed and result.checks["file_sha256"] is False
    assert not backup.verify(users["admin"], m["id"]).passed


def test_the_drill_names_the_table_that_differs_from_the_manifest(filled, users):
    m = backup.create(users["admin"])
    path = filled / m["id"] / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["tables"]["orders"]["rows"] = 3
    path.write_text(json.dumps(manifest))
    result = backup.drill(users["admin"])
    assert not result.passed
    assert result.summary()["failed_tables"] == ["orders"]


def test_backup_then_restore_gives_identical_checksums_and_undoes_later_changes(filled, users):
    m = backup.create(users["admin"])
    with warehouse.transaction() as tx:
        f.customer(tx, 3, full_name="王五")
        tx.run("DELETE FROM orders WHERE customer_id = 2")
        tx.run("UPDATE customers SET mobile = NULL WHERE customer_id = 1")
    assert backup.live_checksums()["customers"] != m["tables"]["customers"]
    result = backup.restore(users["admin"], m["id"])
    restored = backup.live_checksums()
    # audit_log grows by design (entries since the snapshot are carried, the restore is recorded)
    assert without(restored, "audit_log") == without(m["tables"], "audit_log")
    assert warehouse.scalar("SELECT count(*) FROM customers") == 2
    assert warehouse.scalar("SELECT mobile FROM customers WHERE customer_id = 1") == "+8613812345678"
    assert result["restored"] == m["id"] and result["pre_restore_snapshot"] != m["id"]


def test_the_credentials_store_is_restored_too(filled, users):
    m = backup.create(users["admin"])
    accounts.add_user(users["admin"], "newcomer", "New Comer", ["manager"], "long-enough-1")
    accounts.reset_password(users["admin"], "manager", "changed-password-1")
    backup.restore(users["admin"], m["id"])
    assert auth.load_user("newcomer") is None
    row = warehouse.one("user_by_name", username="manager")
    assert auth.check_password("manager-demo", row["password_hash"])


def test_a_restore_keeps_the_audit_trail_written_since_the_snapshot(filled, users):
    m = backup.create(users["admin"])
    privacy.reveal_id_number(users["admin"], 1, "verified by phone call")
    backup.restore(users["admin"], m["id"])
    actions = warehouse.read("SELECT action FROM audit_log ORDER BY audit_id")["action"].tolist()
    # the snapshot's own creation entry, the reveal, the pre-restore snapshot, then the restore
    assert actions[-4:] == ["backup.create", "pii.reveal", "backup.create", "backup.restore"]
    assert actions.count("pii.reveal") == 1
    ids = warehouse.read("SELECT audit_id FROM audit_log")["audit_id"].tolist()
    assert len(ids) == len(set(ids))


def test_the_pre_restore_snapshot_undoes_a_restore(filled, users):
    m = backup.create(users["admin"])
    with warehouse.transaction() as tx:
        f.customer(tx, 3, full_name="王五")
    pre = backup.restore(users["admin"], m["id"])["pre_restore_snapshot"]
    assert warehouse.scalar("SELECT count(*) FROM customers") == 2
    backup.restore(users["admin"], pre)
    assert warehouse.scalar("SELECT count(*) FROM customers") == 3


def test_a_damaged_snapshot_is_refused_and_the_warehouse_is_untouched(filled, users):
    m = backup.create(users["admin"])
    file = filled / m["id"] / "warehouse.duckdb.enc"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with warehouse.transaction() as tx:
        f.customer(tx, 3, full_name="王五")
    with pytest.raises(backup.BackupError, match="damaged"):
        backup.restore(users["admin"], m["id"])
    assert warehouse.scalar("SELECT count(*) FROM customers") == 3


def test_retention_keeps_the_newest_snapshots(filled, users):
    setting_changes.put(users["admin"], "backup_retention", 2)
    ids = [backup.create(users["admin"], note=str(i))["id"] for i in range(3)]
    assert [s["id"] for s in backup.list_snapshots(users["admin"])] == ids[:0:-1]
    assert not (filled / ids[0]).exists()


def test_unknown_or_path_like_snapshot_ids_are_refused(filled, users):
    for bad in ("nope", "../x", ".hidden", ""):
        with pytest.raises(backup.BackupError):
            backup.restore(users["admin"], bad)


@pytest.mark.parametrize("role", ["manager", "marketing", "steward", "lead"])
def test_only_admins_back_up_drill_and_restore(filled, users, role):
    m = backup.create(users["admin"])
    for call in (
        lambda: backup.create(users[role]),
        lambda: backup.list_snapshots(users[role]),
        lambda: backup.drill(users[role]),
        lambda: backup.verify(users[role], m["id"]),
        lambda: backup.restore(users[role], m["id"]),
    ):
        with pytest.raises(auth.PermissionDenied):
            call()
    assert len(backup.snapshots()) == 1


def test_restoring_the_oldest_snapshot_with_retention_one_keeps_it(filled, users):
    setting_changes.put(users["admin"], "backup_retention", 1)
    m = backup.create(users["admin"])
    with warehouse.transaction() as tx:
        f.customer(tx, 3, full_name="王五")
    result = backup.restore(users["admin"], m["id"])
    assert warehouse.scalar("SELECT count(*) FROM customers") == 2
    assert {s["id"] for s in backup.snapshots()} == {m["id"], result["pre_restore_snapshot"]}
