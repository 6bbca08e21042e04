"""Backups as an attacker and an auditor see them: a restore racing writers loses no audit
row; a snapshot whose rows were deleted and whose manifest was recomputed without the key
fails verify and is not restored; snapshot files hold no personal data in clear and are
private (0600 files, 0700 directories), as are the warehouse file, its log and the demo keys."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import bcrypt
import duckdb
import pytest

from lib.security import auth, privacy
from lib.admin import backup, backup_crypto
from lib.core import config, warehouse
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]
MOBILE = "+8613812345678"
EMAIL = "zhang.san.private@example.com"
ID_NUMBER = "11010519491231002X"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def filled(warehouse_path, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(tx, 1, mobile=MOBILE, email=EMAIL, id_number_enc=privacy.encrypt(ID_NUMBER), id_number_last4="002X")
        f.customer(tx, 2, full_name="李四")
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
        f.order(tx, 2, datetime(2024, 3, 1), 60.5)
    return tmp_path / "backups"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- restore racing writers


def _writer(admin: auth.User, name: str, stop: threading.Event, done: list[str], errors: list[BaseException]) -> None:
    n = 0
    while not stop.is_set():
        reason = f"{name} call {n}"
        try:
            privacy.reveal_id_number(admin, 1, reason)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            return
        done.append(reason)
        n += 1


@pytest.mark.parametrize("run", range(4))
def test_a_restore_racing_writers_loses_no_audit_row(filled, users, run):
    """Four threads reveal an ID number (each reveal commits a pii.reveal audit row) before,
    during and after a restore. Every reveal that returned is in the restored audit log once."""
    admin = users["admin"]
    m = backup.create(admin)
    stop, done, errors = threading.Event(), [], []
    threads = [threading.Thread(target=_writer, args=(admin, f"writer {i}", stop, done, errors)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    result = backup.restore(admin, m["id"])
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(30)
    assert errors == []
    reasons = warehouse.read(
        "SELECT json_extract_string(detail, '$.reason') AS r FROM audit_log WHERE action = 'pii.reveal'"
    )["r"].tolist()
    assert len(done) > 20  # the writers did run around the restore
    assert sorted(reasons) == sorted(done)  # none lost, none doubled
    assert result["audit_entries_carried"] > 0


# ---------------------------------------------------------------- tampering


def _tamper(folder: Path, manifest: dict, resign: str) -> None:
    """Delete customer 2's order inside the snapshot and make the manifest match again, as an
    attacker who can write the backup directory (and even holds the field key) but not the
    hash key would: re-encrypt, recompute every checksum and the file hash."""
    work = folder.parent / "attacker"
    work.mkdir()
    clear = work / "w.duckdb"
    backup_crypto.decrypt_file(folder / manifest["file"], clear)
    con = duckdb.connect(str(clear))
    con.execute("DELETE FROM orders WHERE customer_id = 2")
    con.execute("CHECKPOINT")
    con.close()
    tables = backup.file_checksums(clear)
    (folder / manifest["file"]).unlink()
    backup_crypto.encrypt_file(clear, folder / manifest["file"])
    forged = {
        **manifest,
        "tables": tables,
        "file_sha256": backup._sha256(folder / manifest["file"]),
        "file_bytes": (folder / manifest["file"]).stat().st_size,
    }
    if resign == "another key":
        import hashlib
        import hmac

        body = {k: v for k, v in forged.items() if k != "mac"}
        value = hmac.new(
            b"guessed-key",
            json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
            hashlib.sha256,
        )
        forged["mac"] = {**manifest["mac"], "value": value.hexdigest()}
    elif resign == "no signature":
        forged.pop("mac")
    (folder / backup.MANIFEST_FILE).write_text(json.dumps(forged, indent=2))


@pytest.mark.parametrize("resign", ["old signature kept", "another key", "no signature"])
def test_a_snapshot_with_deleted_rows_and_a_recomputed_manifest_fails_verify_and_is_not_restored(filled, users, resign):
    admin = users["admin"]
    m = backup.create(admin)
    assert backup.verify(admin, m["id"]).passed
    _tamper(filled / m["id"], m, resign)
    verified = backup.verify(admin, m["id"])
    assert not verified.passed
    assert verified.checks["manifest_mac"] is False
    assert verified.checks["file_sha256"] is True and all(t.ok for t in verified.tables)
    assert not backup.drill(admin, m["id"]).passed
    with warehouse.transaction() as tx:
        f.customer(tx, 3, full_name="王五")
    with pytest.raises(backup.BackupError, match="signature does not match"):
        backup.restore(admin, m["id"])
    assert warehouse.scalar("SELECT count(*) FROM customers") == 3
    assert warehouse.scalar("SELECT count(*) FROM orders") == 2


def test_a_manifest_downgraded_to_the_unsigned_format_is_not_restored(filled, users):
    admin = users["admin"]
    m = backup.create(admin)
    path = filled / m["id"] / backup.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    for key in ("format", "mac", "encryption"):
        manifest.pop(key)
    path.write_text(json.dumps(manifest))
    assert not backup.verify(admin, m["id"]).passed
    with pytest.raises(backup.BackupError, match="before snapshots were encrypted and signed"):
        backup.restore(admin, m["id"])


def test_a_snapshot_cut_short_fails_to_decrypt_even_with_its_hash_recomputed(filled, users):
    admin = users["admin"]
    m = backup.create(admin)
    file = filled / m["id"] / m["file"]
    data = file.read_bytes()
    file.write_bytes(data[:-100])
    path = filled / m["id"] / backup.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["file_sha256"] = backup._sha256(file)
    path.write_text(json.dumps(manifest))
    result = backup.verify(admin, m["id"])
    assert result.checks["decrypts"] is False and not result.passed


def test_a_legacy_clear_snapshot_fails_verify_with_a_note_and_is_not_restored(filled, users):
    """Snapshots from before encryption (plain file, unsigned manifest) are refused: nothing
    proves that their manifest was not rewritten."""
    admin = users["admin"]
    folder = filled / "20260101T000000-abcdef"
    folder.mkdir(parents=True)
    warehouse.checkpoint()
    warehouse.dispose()
    clear = folder / backup.SNAPSHOT_FILE
    clear.write_bytes(warehouse.current_location().path.read_bytes())
    tables = backup.file_checksums(clear)
    (folder / backup.MANIFEST_FILE).write_text(
        json.dumps(
            {
                "id": folder.name,
                "created_at": "2026-01-01T00:00:00",
                "created_by": "admin",
                "kind": "manual",
                "note": None,
                "duckdb_version": duckdb.__version__,
                "file": backup.SNAPSHOT_FILE,
                "file_bytes": clear.stat().st_size,
                "file_sha256": backup._sha256(clear),
                "tables": tables,
                "credentials": {"table": "app_users", "users": 5},
            }
        )
    )
    result = backup.verify(admin, folder.name)
    assert not result.passed and result.checks == {"manifest_mac": False, "file_sha256": True}
    assert all(t.ok for t in result.tables)
    assert any("before snapshots were encrypted and signed" in n for n in result.notes)
    with pytest.raises(backup.BackupError, match="before snapshots were encrypted and signed"):
        backup.restore(admin, folder.name)


def test_a_snapshot_needs_the_field_key_it_was_encrypted_with(filled, users, monkeypatch):
    admin = users["admin"]
    m = backup.create(admin)
    old = os.environ["C360_FIELD_KEYS"]
    new = "YXx7Y8WlIgqIvwJ1U0sW4x2yHn1C3ZpA8p7oXq0Qm4k="
    monkeypatch.setenv("C360_FIELD_KEYS", f"{new},{old}")  # rotated: old key kept
    assert backup.verify(admin, m["id"]).passed
    monkeypatch.setenv("C360_FIELD_KEYS", new)  # old key dropped
    result = backup.verify(admin, m["id"])
    assert result.checks["decrypts"] is False and not result.passed
    with pytest.raises(backup.BackupError, match="field key that is not configured"):
        backup.restore(admin, m["id"])


# ---------------------------------------------------------------- nothing in clear, private files


def _secrets_of_customer_1() -> list[bytes]:
    hashes = warehouse.read("SELECT password_hash FROM app_users")["password_hash"].tolist()
    token = warehouse.scalar("SELECT id_number_enc FROM customers WHERE customer_id = 1")
    return [MOBILE.encode(), EMAIL.encode(), token.encode(), *[h.encode() for h in hashes]]


def test_a_snapshot_file_holds_no_contact_ciphertext_or_password_hash_in_clear(filled, users):
    admin = users["admin"]
    values = _secrets_of_customer_1()
    warehouse.checkpoint()
    live = warehouse.current_location().path.read_bytes()
    assert all(v in live for v in values)  # the scan can find them where they are
    m = backup.create(admin)
    folder = filled / m["id"]
    for file in folder.iterdir():
        content = file.read_bytes()
        assert [v for v in values if v in content] == [], file.name
    assert backup.drill(admin).passed
    assert not [p for p in filled.iterdir() if p.name.startswith(".work-")]  # scratch removed


def test_snapshot_files_are_0600_in_0700_directories(filled, users):
    m = backup.create(users["admin"])
    backup.verify(users["admin"], m["id"])
    assert mode(filled) == 0o700
    assert mode(filled / m["id"]) == 0o700
    assert {p.name: mode(p) for p in (filled / m["id"]).iterdir()} == {
        "manifest.json": 0o600,
        "warehouse.duckdb.enc": 0o600,
    }


def test_the_warehouse_file_and_its_log_are_0600(warehouse_path):
    warehouse_path.chmod(0o644)  # as an older version left it
    warehouse.dispose()
    with warehouse.transaction() as tx:
        f.customer(tx, 1)
        wal = warehouse_path.with_name(warehouse_path.name + ".wal")
        assert mode(warehouse_path) == 0o600
    assert not wal.exists() or mode(wal) == 0o600
    with warehouse.transaction() as tx:  # a log opened by a new write
        f.customer(tx, 2)
    assert wal.exists() and mode(wal) == 0o600


def test_a_new_warehouse_and_its_directory_are_created_private(tmp_path):
    target = tmp_path / "fresh" / "warehouse.duckdb"
    env = {**os.environ, "C360_DEMO": "0"}
    env.pop("C360_WAREHOUSE", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.umask(0o022); from lib import cli; sys.exit(cli.main(sys.argv[1:]))",
            "--warehouse",
            str(target),
            "init",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert mode(target.parent) == 0o700 and mode(target) == 0o600


def test_the_demo_keys_file_is_created_0600_in_a_0700_directory(tmp_path, monkeypatch):
    keys = tmp_path / "data" / "demo-keys.toml"
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "1")
    generated = config._demo_keys()
    assert set(generated) == {"cookie_key", "field_keys", "hash_key"}
    assert mode(keys) == 0o600 and mode(keys.parent) == 0o700
