"""The audit log is append-only, searchable with filters paginated in SQL, and exports are audited.
Also: outside demo mode the configuration refuses the demo cookie key."""

from __future__ import annotations

import re
from datetime import date, datetime

import bcrypt
import pytest

from lib.security import audit, auth
from lib.admin import audit_log as audit_trail
from lib.core import config, warehouse
from lib.admin.audit_log import AuditFilter
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


# ---------------------------------------------------------------- append-only

WRITES_TO_AUDIT = re.compile(
    r"\b(UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log|TRUNCATE\s+(TABLE\s+)?audit_log"
    r"|DROP\s+TABLE\s+(IF\s+EXISTS\s+)?audit_log|ALTER\s+TABLE\s+audit_log"
    r"|INSERT\s+OR\s+REPLACE\s+INTO\s+audit_log)\b",
    re.I,
)


def test_no_module_in_lib_updates_or_deletes_audit_entries():
    files = [p for p in (ROOT / "lib").rglob("*") if p.suffix in (".py", ".sql")]
    assert len(files) > 10
    offenders = [str(p.relative_to(ROOT)) for p in files if WRITES_TO_AUDIT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_scan_would_catch_an_update_or_a_delete():
    assert WRITES_TO_AUDIT.search("tx.run('update audit_log set detail = null')")
    assert WRITES_TO_AUDIT.search("DELETE\n FROM audit_log WHERE audit_id < 10")
    assert not WRITES_TO_AUDIT.search("INSERT INTO audit_log (username) VALUES ('x')")


# ---------------------------------------------------------------- search


@pytest.fixture
def trail(warehouse_path):
    """Seven entries on known days: logins, a customer edit, a merge of 7 and 8, a reveal."""
    rows = [
        ("2026-11-01 09:00", "steward", "login", None, None),
        ("2026-11-01 09:05", "steward", "customer.update", "customer", "7"),
        ("2026-11-02 10:00", "steward", "customer.merge", "customer", "7,8"),
        ("2026-11-03 11:00", "admin", "login", None, None),
        ("2026-11-03 11:01", "admin", "pii.reveal", "customer", "8"),
        ("2026-11-04 12:00", "manager", "login.failed", None, None),
        ("2026-11-05 08:00", "x'; DROP TABLE customers; --", "login.failed", None, None),
    ]
    with warehouse.transaction() as tx:
        # Test set-up only (lib/ has no such path): start from an empty log with known days.
        tx.run("DELETE FROM audit_log")
        for when, who, action, entity, entity_id in rows:
            audit.record(tx, who, action, entity, entity_id, detail={"n": 1})
    # Give each entry its day (the seeding above stamps them all now).
    ids = warehouse.read("SELECT audit_id FROM audit_log ORDER BY audit_id")["audit_id"].tolist()
    with warehouse.transaction() as tx:
        for audit_id, row in zip(ids, rows):
            tx.run("UPDATE audit_log SET occurred_at = CAST(:t AS TIMESTAMP) WHERE audit_id = :i", t=row[0], i=audit_id)
    return rows


def actions(frame) -> list[str]:
    return frame["action"].tolist()


def test_search_lists_newest_first_with_the_total(trail, users):
    rows, total = audit_trail.search(users["admin"], AuditFilter())
    assert total == 7
    assert actions(rows)[:2] == ["login.failed", "login.failed"]
    assert rows["occurred_at"].iloc[-1] == datetime(2026, 11, 1, 9, 0)


@pytest.mark.parametrize(
    "flt, expected",
    [
        (AuditFilter(username="steward"), ["customer.merge", "customer.update", "login"]),
        (AuditFilter(action="login"), ["login", "login"]),
        (AuditFilter(entity="customer", record="8"), ["pii.reveal", "customer.merge"]),
        (AuditFilter(record="7"), ["customer.merge", "customer.update"]),
        (AuditFilter(start=date(2026, 11, 2), end=date(2026, 11, 3)), ["pii.reveal", "login", "customer.merge"]),
        (AuditFilter(start=date(2026, 11, 4)), ["login.failed", "login.failed"]),
        (AuditFilter(username="admin", action="pii.reveal"), ["pii.reveal"]),
        (AuditFilter(username="x'; DROP TABLE customers; --"), ["login.failed"]),
        (AuditFilter(record="1 OR 1=1"), []),
    ],
)
def test_filters_combine(trail, users, flt, expected):
    rows, total = audit_trail.search(users["admin"], flt)
    assert actions(rows) == expected and total == len(expected)
    assert warehouse.scalar("SELECT count(*) FROM audit_log") == 7


def test_pages_are_cut_in_sql(trail, users):
    first, total = audit_trail.search(users["admin"], AuditFilter(), page=1, page_size=3)
    third, _ = audit_trail.search(users["admin"], AuditFilter(), page=3, page_size=3)
    assert total == 7 and len(first) == 3 and len(third) == 1
    assert third["occurred_at"].iloc[0] == datetime(2026, 11, 1, 9, 0)
    assert audit_trail.count(users["admin"], AuditFilter(action="login")) == 2


def test_choices_list_the_values_in_the_log(trail, users):
    choices = audit_trail.choices(users["admin"])
    assert choices["username"] == sorted(["admin", "manager", "steward", "x'; DROP TABLE customers; --"])
    assert choices["entity"] == ["customer"]


def test_an_export_is_itself_audited_with_its_row_count(trail, users):
    data, count = audit_trail.export_csv(users["admin"], AuditFilter(username="steward"))
    text = data.decode("utf-8-sig")
    assert count == 3 and text.count("\n") == 4 and text.startswith("audit_id,occurred_at")
    detail = warehouse.scalar("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'audit.export'")
    assert '"rows": 3' in detail and '"username": "steward"' in detail


@pytest.mark.parametrize("role", ["manager", "marketing", "steward", "lead"])
def test_only_admins_read_the_audit_log(trail, users, role):
    for call in (
        lambda: audit_trail.search(users[role], AuditFilter()),
        lambda: audit_trail.export_csv(users[role], AuditFilter()),
        lambda: audit_trail.choices(users[role]),
    ):
        with pytest.raises(auth.PermissionDenied):
            call()
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'audit.export'") == 0


# ---------------------------------------------------------------- start-up configuration


@pytest.fixture
def production(monkeypatch, tmp_path):
    """Outside demo mode, with a demo-keys file holding a known demo cookie key."""
    keys = tmp_path / "demo-keys.toml"
    keys.write_text('cookie_key = "demo-cookie-key-0123456789-abcdefghijkl"\nfield_keys = "x"\nhash_key = "y"\n')
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "0")
    return "demo-cookie-key-0123456789-abcdefghijkl"


def test_outside_demo_mode_the_demo_cookie_key_is_refused(production, monkeypatch):
    monkeypatch.setenv("C360_COOKIE_KEY", production)
    with pytest.raises(config.ConfigError, match="demo cookie key"):
        config.cookie_key()


@pytest.mark.parametrize("key, message", [("", "Set C360_COOKIE_KEY"), ("short-key", "at least 32")])
def test_outside_demo_mode_a_missing_or_short_cookie_key_is_refused(production, monkeypatch, key, message):
    monkeypatch.setenv("C360_COOKIE_KEY", key)
    with pytest.raises(config.ConfigError, match=message):
        config.cookie_key()


def test_outside_demo_mode_a_real_cookie_key_is_accepted(production, monkeypatch):
    monkeypatch.setenv("C360_COOKIE_KEY", "a-real-production-key-0123456789-abcdef")
    assert config.cookie_key() == "a-real-production-key-0123456789-abcdef"
