"""`python -m lib.cli` admin commands: backup, keys, users, privacy (run in-process)."""

from __future__ import annotations

import json
from datetime import datetime

import bcrypt
import pytest

from lib.security import auth, privacy
from lib.admin import backup
from lib import cli
from lib.core import warehouse
from tests import factories as f


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def wh(warehouse_path, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(
            tx, 1, mobile="+8613812345678", id_number_enc=privacy.encrypt("11010519491231002X"), id_number_last4="002X"
        )
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
    return str(warehouse_path)


def run(wh: str, *args: str) -> int:
    return cli.main(["--warehouse", wh, *args])


def test_backup_commands_create_list_verify_drill_and_restore(wh, capsys):
    assert run(wh, "backup", "create", "--note", "nightly") == 0
    assert "5 user account(s)" in capsys.readouterr().out  # the credentials store
    assert run(wh, "backup", "list") == 0
    snapshot = capsys.readouterr().out.split()[0]
    assert run(wh, "backup", "verify") == 0
    assert capsys.readouterr().out.strip().endswith("PASS")
    assert run(wh, "backup", "drill", snapshot) == 0
    assert "FAIL" not in capsys.readouterr().out
    with warehouse.transaction() as tx:
        f.customer(tx, 2, full_name="李四")
    assert run(wh, "backup", "restore", snapshot, "--yes") == 0
    assert warehouse.scalar("SELECT count(*) FROM customers") == 1


def test_restore_without_a_terminal_needs_yes(wh, capsys):
    run(wh, "backup", "create")
    snapshot = backup.snapshots()[0]["id"]
    assert run(wh, "backup", "restore", snapshot) == 1
    assert "--yes" in capsys.readouterr().err


def test_users_commands(wh, capsys, monkeypatch):
    monkeypatch.setenv("C360_NEW_PASSWORD", "long-enough-1")
    assert run(wh, "users", "add", "li.lei", "--name", "Li Lei", "--roles", "steward,marketing") == 0
    assert auth.load_user("li.lei").roles == frozenset({"steward", "marketing"})
    assert run(wh, "users", "roles", "li.lei", "manager") == 0
    assert run(wh, "users", "disable", "li.lei") == 0
    assert auth.load_user("li.lei") is None
    assert run(wh, "users", "add", "x", "--name", "X", "--roles", "manager") == 2
    assert "2–32 characters" in capsys.readouterr().err
    assert run(wh, "users", "list") == 0
    assert "li.lei" in capsys.readouterr().out
    assert run(wh, "users", "permissions") == 0
    assert "| `rotate_keys` | – | – | – | yes |" in capsys.readouterr().out


def test_privacy_and_keys_commands(wh, tmp_path, capsys):
    out = tmp_path / "subject.json"
    assert run(wh, "privacy", "export", "1", "--out", str(out)) == 0
    assert json.loads(out.read_text())["tables"]["customers"][0]["id_number"] == "11010519491231002X"
    assert oct(out.stat().st_mode & 0o777) == "0o600"  # readable by its owner only
    assert run(wh, "keys", "rotate") == 0
    assert "0 still need an older key" in capsys.readouterr().out
    assert run(wh, "privacy", "erase", "1", "--reason", "request #9 by letter", "--yes") == 0
    assert warehouse.scalar("SELECT mobile FROM customers WHERE customer_id = 1") is None
    actions = warehouse.read(
        "SELECT username, action FROM audit_log WHERE action IN"
        " ('privacy.export', 'keys.rotate', 'customer.erase') ORDER BY audit_id"
    )
    assert actions.values.tolist() == [
        ["system", "privacy.export"],
        ["system", "keys.rotate"],
        ["system", "customer.erase"],
    ]
