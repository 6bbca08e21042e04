"""Server-side sessions, login throttling and the password policy (issue #13 items 5 and 9).

Sessions (lib/security/sessions.py) end on logout, disable, role change and password reset, for every
browser of the user; a cookie that is not ours is refused without an exception. Throttling
(lib/security/auth.py) is per (username, client) with a slower per-username backoff that spares the
clients the user signs in from, so nobody can lock `admin` out from elsewhere, and every
refusal looks the same. Passwords are checked with zxcvbn (lib/security/passwords.py).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta

import bcrypt
import jwt
import pytest

from lib.security import auth, passwords, sessions
from lib.core import warehouse
from lib.admin import users as accounts

ADMIN = auth.User("admin", "Chen Jie", frozenset({"admin"}))


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


def audit(action: str) -> list[dict]:
    return warehouse.read(
        "SELECT username, entity_id, CAST(detail AS VARCHAR) AS detail FROM audit_log"
        " WHERE action = :a ORDER BY audit_id",
        a=action,
    ).to_dict("records")


# ---------------------------------------------------------------- sessions


def test_a_session_is_valid_until_it_is_revoked_and_the_warehouse_keeps_only_a_hash(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    session = sessions.check(token)
    assert (session.username, session.client) == ("manager", "10.0.0.1")
    stored = warehouse.read("SELECT session_id FROM app_sessions")["session_id"].tolist()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda: accounts.disable_user(ADMIN, "manager"), "user.disable"),
        (lambda: accounts.set_roles(ADMIN, "manager", ["manager", "marketing"]), "user.roles"),
        (lambda: accounts.reset_password(ADMIN, "manager", "brand-new-password"), "user.password_reset"),
        (lambda: sessions.log_out(auth.User("manager", roles=frozenset({"manager"})), "10.0.0.1"), "logout"),
    ],
)
def test_disable_role_change_reset_and_logout_end_every_session_of_the_user(warehouse_path, change, reason):
    office, home = sessions.start("manager", "10.0.0.1"), sessions.start("manager", "10.0.0.2")
    other = sessions.start("steward", "10.0.0.3")
    change()
    assert sessions.check(office) is None and sessions.check(home) is None
    assert sessions.check(other).username == "steward"  # other users keep theirs
    rows = warehouse.records("SELECT username, reason FROM app_sessions WHERE revoked_at IS NOT NULL ORDER BY username")
    assert rows == [{"username": "manager", "reason": reason}] * 2
    [entry] = audit("session.revoke")
    assert entry["entity_id"] == "manager"
    assert json.loads(entry["detail"]) == {"reason": reason, "sessions": 2}


def test_setting_the_same_roles_again_keeps_the_sessions(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    accounts.set_roles(ADMIN, "manager", ["manager"])
    assert sessions.check(token) is not None


def test_a_revocation_by_another_process_is_seen_within_the_recheck_time(warehouse_path, monkeypatch):
    token = sessions.start("manager", "10.0.0.1")
    assert sessions.check(token) is not None  # cached for RECHECK_SECONDS
    with warehouse.transaction() as tx:  # e.g. a CLI job on the warehouse
        tx.run("UPDATE app_sessions SET revoked_at = current_timestamp, reason = 'cli'")
    monkeypatch.setattr(sessions, "RECHECK_SECONDS", 0.0)
    assert sessions.check(token) is None


def test_an_idle_session_ends_after_thirty_minutes_and_says_so(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    later = datetime.now() + timedelta(minutes=sessions.IDLE_MINUTES, seconds=5)
    sessions.forget()
    assert sessions.check(token, now=later) is None
    assert warehouse.scalar("SELECT reason FROM app_sessions") == "idle"


def test_activity_keeps_a_session_alive_and_twelve_hours_end_it_anyway(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    now = datetime.now()
    for minutes in range(20, 12 * 60, 20):  # a click every 20 minutes
        sessions.forget()
        assert sessions.check(token, now=now + timedelta(minutes=minutes)) is not None, minutes
    sessions.forget()
    assert sessions.check(token, now=now + timedelta(hours=12, minutes=1)) is None
    assert warehouse.scalar("SELECT reason FROM app_sessions") == "expired"


def test_the_cookie_carries_the_token_signed_with_the_cookie_key(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    assert sessions.token_from_cookie(sessions.cookie_value(token)) == token


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cookie",
    [
        _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sid": "x" * 43, "exp": 4102444800}) + ".",
        jwt.encode({"sid": "x" * 43, "exp": 4102444800}, "some other key of 32 characters!!", algorithm="HS256"),
        jwt.encode({"sid": "x" * 43, "exp": 1}, "k" * 40, algorithm="HS256"),
        "garbage",
        "a.b.c",
        "",
        "é" * 5000,
        "eyJ" + "A" * 50,
    ],
    ids=["alg-none", "other-key", "expired", "garbage", "three-dots", "empty", "huge", "bad-base64"],
)
def test_a_cookie_that_is_not_ours_is_refused_without_an_exception(warehouse_path, cookie):
    assert sessions.token_from_cookie(cookie) is None
    assert sessions.resume(sessions.token_from_cookie(cookie), "10.0.0.1") is None


def test_cookie_logins_and_refusals_are_audited(warehouse_path):
    token = sessions.start("manager", "10.0.0.1")
    assert sessions.resume(token, "10.0.0.5").username == "manager"
    sessions.log_out(auth.User("manager", roles=frozenset({"manager"})), "10.0.0.5")
    assert sessions.resume(token, "10.0.0.5") is None  # the same cookie after logout
    [login] = audit("login.cookie")
    assert login["username"] == "manager" and json.loads(login["detail"])["client"] == "10.0.0.5"
    [logout] = audit("logout")
    assert logout["username"] == "manager"
    assert json.loads(logout["detail"]) == {"client": "10.0.0.5", "sessions_ended": 1}
    [refused] = audit("login.cookie_refused")
    assert json.loads(refused["detail"]) == {"client": "10.0.0.5", "signed": True}


# ---------------------------------------------------------------- throttling


def _fail(username: str, client: str, times: int) -> auth.LoginResult:
    result = None
    for _ in range(times):
        result = auth.authenticate(username, "wrong password", client)
    return result


def test_the_right_password_signs_in_and_is_audited_with_the_client(warehouse_path):
    result = auth.authenticate("manager", "manager-demo", "10.0.0.1")
    assert result.user == auth.User("manager", "Wang Fang 王芳", frozenset({"manager"}))
    [entry] = audit("login")
    assert json.loads(entry["detail"]) == {"client": "10.0.0.1"}


def test_a_write_conflict_while_recording_a_login_does_not_check_the_password_again(warehouse_path, monkeypatch):
    """Several people signing in as one user at the same moment conflict on the user's row: the
    short transaction that records the login is re-run, never bcrypt (0.25 s of CPU each time,
    which made 20 simultaneous logins pile up for half a minute)."""
    checks, conflicts = [], []
    real_check, real_run = auth.check_password, warehouse.Tx.run

    def counting_check(password, password_hash):
        checks.append(password)
        return real_check(password, password_hash)

    def run_with_one_conflict(self, name, **params):
        if name == "user_login_succeeded" and not conflicts:
            conflicts.append(name)
            raise RuntimeError("TransactionContext Error: Conflict on update!")
        return real_run(self, name, **params)

    monkeypatch.setattr(auth, "check_password", counting_check)
    monkeypatch.setattr(warehouse.Tx, "run", run_with_one_conflict)
    result = auth.authenticate("manager", "manager-demo", "10.0.0.1")
    assert result.user is not None and result.token
    assert (conflicts, checks) == (["user_login_succeeded"], ["manager-demo"])
    assert len(audit("login")) == 1  # the rolled-back attempt left no audit row


def test_an_unknown_user_a_wrong_password_and_a_disabled_account_look_the_same(warehouse_path):
    accounts.disable_user(ADMIN, "steward")
    unknown = auth.authenticate("nobody", "manager-demo", "10.0.0.1")
    wrong = auth.authenticate("manager", "not-it", "10.0.0.1")
    disabled = auth.authenticate("steward", "steward-demo", "10.0.0.1")
    assert unknown == wrong == disabled == auth.LoginResult(None, 0)


def test_an_unknown_user_is_throttled_exactly_like_a_known_one(warehouse_path):
    known = [auth.authenticate("manager", "x", "10.0.0.1").retry_minutes for _ in range(7)]
    unknown = [auth.authenticate("ghost", "x", "10.0.0.1").retry_minutes for _ in range(7)]
    assert known == unknown == [0, 0, 0, 0, 15, 15, 15]


def test_a_locked_client_is_refused_even_with_the_right_password(warehouse_path):
    _fail("admin", "203.0.113.9", auth.MAX_FAILED_LOGINS)
    assert auth.authenticate("admin", "admin-demo", "203.0.113.9") == auth.LoginResult(None, 15)
    assert json.loads(audit("login.failed")[-1]["detail"]) == {"client": "203.0.113.9", "reason": "throttled"}


def test_nobody_can_lock_admin_out_from_another_client(warehouse_path):
    auth.authenticate("admin", "admin-demo", "10.0.0.1")  # the admin's usual client
    for n in range(40):  # an attacker from 40 addresses
        _fail("admin", f"198.51.100.{n}", auth.MAX_FAILED_LOGINS)
    assert auth.authenticate("admin", "admin-demo", "10.0.0.1").user.username == "admin"
    # ... while a new client must now wait (the slower, global per-username backoff)
    assert auth.authenticate("admin", "admin-demo", "192.0.2.1").retry_minutes == 60


def test_the_global_backoff_grows_from_one_minute_and_spares_known_clients(warehouse_path):
    auth.authenticate("marketing", "marketing-demo", "10.0.0.1")
    for n in range(auth.GLOBAL_FAILURES - 1):  # 19 failures from 19 clients
        assert auth.authenticate("marketing", "x", f"198.51.100.{n}").retry_minutes == 0
    assert auth.authenticate("marketing", "x", "198.51.100.200").retry_minutes == 1  # the 20th
    assert auth.lock_remaining("marketing", "192.0.2.7") <= timedelta(minutes=1)
    assert auth.lock_remaining("marketing", "10.0.0.1") is None
    # a new client trying anyway is refused, and the wait doubles (each try counts)
    assert auth.authenticate("marketing", "x", "198.51.100.201").retry_minutes == 2
    assert auth.authenticate("marketing", "x", "198.51.100.202").retry_minutes == 4
    assert auth.authenticate("marketing", "marketing-demo", "10.0.0.1").user is not None


def test_unlock_and_a_password_reset_clear_the_throttle_of_every_client(warehouse_path):
    _fail("manager", "10.0.0.1", auth.MAX_FAILED_LOGINS)
    accounts.reset_password(ADMIN, "manager", "brand-new-password")
    assert auth.lock_remaining("manager") is None
    assert auth.authenticate("manager", "brand-new-password", "10.0.0.1").user is not None


def test_the_access_review_shows_a_throttled_account(warehouse_path):
    _fail("steward", "10.0.0.1", auth.MAX_FAILED_LOGINS)
    review = accounts.access_review(ADMIN)
    assert review.set_index("username")["locked"].to_dict() == {
        "admin": False,
        "lead": False,
        "manager": False,
        "marketing": False,
        "steward": True,
    }


# ---------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    "password, message",
    [
        ("aaaaaaaaaa", 'Repeats like "aaa" are easy to guess'),
        ("password123", "This is a very common password"),
        ("qwertyuiop", "too easy to guess"),
        ("1234567890", "too easy to guess"),
        ("short", "at least 10 characters"),
        ("é" * 40, "at most 72 bytes"),
    ],
)
def test_trivial_passwords_are_refused_with_zxcvbns_feedback(warehouse_path, password, message):
    with pytest.raises(accounts.AccountError, match=message):
        accounts.add_user(ADMIN, "bob", "Bob", ["manager"], password)
    with pytest.raises(accounts.AccountError, match=message):
        accounts.reset_password(ADMIN, "manager", password)
    assert warehouse.scalar("SELECT count(*) FROM app_users WHERE username = 'bob'") == 0
    assert auth.authenticate("manager", "manager-demo", "10.0.0.1").user is not None


def test_a_password_built_from_the_account_name_is_refused(warehouse_path):
    with pytest.raises(accounts.AccountError, match="too easy to guess"):
        accounts.add_user(ADMIN, "zhangsan", "Zhang San", ["manager"], "zhangsan2026")


def test_a_strong_passphrase_is_accepted(warehouse_path):
    assert passwords.check("correct horse battery staple") == "correct horse battery staple"
    accounts.add_user(ADMIN, "bob", "Bob", ["manager"], "violet-kettle-harbour")
    assert auth.authenticate("bob", "violet-kettle-harbour", "10.0.0.1").user.username == "bob"


def test_the_cli_refuses_a_trivial_password_with_the_same_message(warehouse_path, monkeypatch, capsys):
    from lib import cli

    monkeypatch.setenv("C360_NEW_PASSWORD", "a" * 10)
    assert (
        cli.main(["--warehouse", str(warehouse_path), "users", "add", "bob", "--name", "Bob", "--roles", "manager"])
        == 2
    )
    assert 'Repeats like "aaa" are easy to guess' in capsys.readouterr().err
    assert cli.main(["--warehouse", str(warehouse_path), "users", "reset-password", "manager"]) == 2
    assert 'Repeats like "aaa" are easy to guess' in capsys.readouterr().err
    assert auth.authenticate("manager", "manager-demo", "10.0.0.1").user is not None
