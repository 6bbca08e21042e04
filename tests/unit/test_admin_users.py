"""User administration, the access review, lockout, and the permissions table in the docs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import bcrypt
import pytest

from lib.security import auth
from lib.core import warehouse
from lib.admin import users as accounts
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    """Cheap hashes for the demo users created per test (cost is not what these tests test)."""
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


def audit_rows(action: str) -> list[dict]:
    return warehouse.read(
        "SELECT username, entity_id, CAST(before AS VARCHAR) AS before,"
        " CAST(after AS VARCHAR) AS after FROM audit_log WHERE action = :a"
        " ORDER BY audit_id",
        a=action,
    ).to_dict("records")


# ---------------------------------------------------------------- adding users


def test_an_added_user_can_log_in_with_a_bcrypt_hash_and_the_audit_keeps_no_hash(warehouse_path, users):
    name = accounts.add_user(
        users["admin"], "  Li.Lei ", "Li Lei 李雷", ["steward"], "correct horse 1", "lilei@example.com"
    )
    assert name == "li.lei"
    row = warehouse.one("user_by_name", username="li.lei")
    assert row["password_hash"].startswith("$2")
    assert auth.check_password("correct horse 1", row["password_hash"])
    assert list(row["roles"]) == ["steward"]
    assert auth.load_user("li.lei") == auth.User("li.lei", "Li Lei 李雷", frozenset({"steward"}))
    [entry] = audit_rows("user.create")
    assert entry["username"] == "admin" and entry["entity_id"] == "li.lei"
    assert "$2" not in entry["after"] and "correct horse" not in entry["after"]
    assert json.loads(entry["after"])["roles"] == ["steward"]


@pytest.mark.parametrize(
    "username, name, roles, password, message",
    [
        ("x", "X", ["manager"], "long-enough-1", "2–32 characters"),
        ("1abc", "X", ["manager"], "long-enough-1", "starting with a letter"),
        ("bob'; DROP TABLE app_users;--", "X", ["manager"], "long-enough-1", "lower-case letters"),
        ("bob", "", ["manager"], "long-enough-1", "display name"),
        ("bob", "Bob", [], "long-enough-1", "at least one role"),
        ("bob", "Bob", ["root"], "long-enough-1", "Unknown role"),
        ("bob", "Bob", ["manager"], "short", "at least 10 characters"),
        ("bob", "Bob", ["manager"], "é" * 40, "at most 72 bytes"),
    ],
)
def test_invalid_new_users_are_refused_with_a_clear_message_and_nothing_is_written(
    warehouse_path, users, username, name, roles, password, message
):
    before = warehouse.scalar("SELECT count(*) FROM app_users")
    with pytest.raises(accounts.AccountError, match=message):
        accounts.add_user(users["admin"], username, name, roles, password)
    assert warehouse.scalar("SELECT count(*) FROM app_users") == before


def test_a_taken_username_is_refused(warehouse_path, users):
    with pytest.raises(accounts.AccountError, match="taken"):
        accounts.add_user(users["admin"], "manager", "Another", ["manager"], "long-enough-1")


# ---------------------------------------------------------------- roles, disabling, passwords


def test_changing_roles_is_audited_with_before_and_after(warehouse_path, users):
    accounts.set_roles(users["admin"], "marketing", ["marketing", "steward"])
    assert auth.load_user("marketing").roles == frozenset({"marketing", "steward"})
    [entry] = audit_rows("user.roles")
    assert json.loads(entry["before"]) == {"roles": ["marketing"]}
    assert json.loads(entry["after"]) == {"roles": ["marketing", "steward"]}


def test_the_last_enabled_admin_cannot_lose_the_role_or_be_disabled(warehouse_path, users):
    with pytest.raises(accounts.AccountError, match="last enabled admin"):
        accounts.set_roles(users["admin"], "admin", ["manager"])
    accounts.add_user(users["admin"], "admin2", "Second Admin", ["admin"], "long-enough-1")
    with pytest.raises(accounts.AccountError, match="your own account"):
        accounts.disable_user(auth.User("admin2", roles=frozenset({"admin"})), "admin2")
    accounts.disable_user(users["admin"], "admin2")
    with pytest.raises(accounts.AccountError, match="last enabled admin"):
        accounts.disable_user(auth.User("admin2", roles=frozenset({"admin"})), "admin")


def test_disabling_revokes_at_once_and_enabling_restores(warehouse_path, users):
    accounts.disable_user(users["admin"], "steward")
    # The page guard re-reads the user on every run: None ends the session.
    assert auth.load_user("steward") is None
    assert auth.authenticate("steward", "steward-demo").user is None
    accounts.enable_user(users["admin"], "steward")
    assert auth.load_user("steward").roles == frozenset({"steward"})
    assert [json.loads(r["after"]) for r in audit_rows("user.disable") + audit_rows("user.enable")] == [
        {"disabled": True},
        {"disabled": False},
    ]


def test_reset_password_replaces_the_hash_clears_a_lockout_and_is_audited(warehouse_path, users):
    for _ in range(auth.MAX_FAILED_LOGINS):
        auth.record_login("manager", success=False)
    assert auth.lock_remaining("manager") is not None
    accounts.reset_password(users["admin"], "manager", "brand-new-password")
    row = warehouse.one("user_by_name", username="manager")
    assert auth.check_password("brand-new-password", row["password_hash"])
    assert not auth.check_password("manager-demo", row["password_hash"])
    assert auth.lock_remaining("manager") is None and row["failed_attempts"] == 0
    [entry] = audit_rows("user.password_reset")
    assert entry["before"] is None and entry["after"] is None


def test_unknown_users_are_reported(warehouse_path, users):
    for call in (
        lambda: accounts.set_roles(users["admin"], "ghost", ["manager"]),
        lambda: accounts.disable_user(users["admin"], "ghost"),
        lambda: accounts.reset_password(users["admin"], "ghost", "long-enough-1"),
        lambda: accounts.unlock(users["admin"], "ghost"),
    ):
        with pytest.raises(accounts.AccountError, match="no user 'ghost'"):
            call()


# ---------------------------------------------------------------- lockout (lib/security/auth.py)

# The lock is per (username, client) since issue #13: the old tests asserted that five
# failures locked the account itself (for every client), which let anyone lock `admin` out.
# tests/unit/test_sessions_and_login.py covers the throttling as a whole.


def test_five_failures_lock_that_client_for_fifteen_minutes_not_the_account(warehouse_path):
    for attempt in range(auth.MAX_FAILED_LOGINS - 1):
        auth.record_login("steward", success=False, client="10.0.0.9")
        assert auth.lock_remaining("steward", "10.0.0.9") is None, attempt
    auth.record_login("steward", success=False, client="10.0.0.9")
    remaining = auth.lock_remaining("steward", "10.0.0.9")
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    assert auth.lock_remaining("steward", "10.0.0.1") is None
    failures = warehouse.read(
        "SELECT CAST(detail AS VARCHAR) AS d FROM audit_log WHERE action = 'login.failed' ORDER BY audit_id"
    )["d"].tolist()
    assert [json.loads(d)["locked"] for d in failures] == [False] * 4 + [True]


def test_a_lock_ends_after_fifteen_minutes_and_the_count_starts_afresh(warehouse_path):
    for _ in range(auth.MAX_FAILED_LOGINS):
        auth.record_login("steward", success=False, client="10.0.0.9")
    with warehouse.transaction() as tx:  # fifteen minutes pass
        tx.run(
            "UPDATE login_throttle SET locked_until = current_timestamp - INTERVAL 1 SECOND"
            " WHERE username = 'steward' AND client = '10.0.0.9'"
        )
    assert auth.lock_remaining("steward", "10.0.0.9") is None
    auth.record_login("steward", success=False, client="10.0.0.9")  # one slip after the lock
    assert auth.lock_remaining("steward", "10.0.0.9") is None
    assert (
        warehouse.scalar("SELECT failures FROM login_throttle WHERE username = 'steward' AND client = '10.0.0.9'") == 1
    )


def test_a_successful_login_resets_the_failure_count(warehouse_path):
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        auth.record_login("steward", success=False)
    auth.record_login("steward", success=True)
    row = warehouse.one("user_by_name", username="steward")
    assert row["failed_attempts"] == 0 and row["last_login"] is not None
    assert warehouse.scalar("SELECT count(*) FROM login_throttle WHERE username = 'steward' AND client = 'local'") == 0


def test_unlock_ends_a_lock_early(warehouse_path, users):
    for _ in range(auth.MAX_FAILED_LOGINS):
        auth.record_login("steward", success=False)
    assert auth.lock_remaining("steward") is not None
    accounts.unlock(users["admin"], "steward")
    assert auth.lock_remaining("steward") is None
    assert auth.authenticate("steward", "steward-demo").user is not None


# ---------------------------------------------------------------- access review


def test_access_review_counts_days_inactive_and_flags_dormant_accounts(warehouse_path, users):
    now = datetime(2026, 11, 23, 12, 0)
    with warehouse.transaction() as tx:
        tx.run("UPDATE app_users SET created_at = TIMESTAMP '2026-01-01 09:00'")
        tx.run(
            "UPDATE app_users SET last_login = TIMESTAMP '2026-11-20 09:00',"
            " last_activity = TIMESTAMP '2026-11-22 18:00' WHERE username = 'admin'"
        )
        tx.run(
            "UPDATE app_users SET last_login = TIMESTAMP '2026-08-25 12:00' WHERE username = 'manager'"
        )  # 90 days before now: dormant
        tx.run(
            "UPDATE app_users SET last_login = TIMESTAMP '2026-08-26 12:00' WHERE username = 'marketing'"
        )  # 89 days: not yet
        tx.run("UPDATE app_users SET disabled = true WHERE username = 'lead'")
    review = accounts.access_review(users["admin"], now=now).set_index("username")
    assert review.loc["admin", "days_inactive"] == 1
    assert review.loc["manager", "days_inactive"] == 90
    assert review.loc["marketing", "days_inactive"] == 89
    assert review.loc["steward", "days_inactive"] == 326  # never logged in: since creation
    assert review["dormant"].to_dict() == {
        "steward": True,
        "manager": True,
        "marketing": False,
        "admin": False,
        "lead": False,
    }  # disabled: not flagged
    assert list(review.loc["lead", "roles"]) == ["manager", "marketing"]
    assert "password_hash" not in review.columns


@pytest.mark.parametrize("role", ["manager", "marketing", "steward"])
def test_only_admins_manage_users(warehouse_path, users, role):
    with pytest.raises(auth.PermissionDenied):
        accounts.access_review(users[role])
    with pytest.raises(auth.PermissionDenied):
        accounts.add_user(users[role], "eve", "Eve", ["admin"], "long-enough-1")
    assert auth.load_user("eve") is None


# ---------------------------------------------------------------- docs


def test_docs_security_table_is_generated_from_the_permissions():
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert accounts.permissions_table() in text, (
        "docs/security.md is out of date: paste `python -m lib.cli users permissions` into it"
    )
