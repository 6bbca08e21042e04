"""Users, roles and the permission check that every lib/ write and PII read calls.

One table maps each action to the roles allowed to do it (PERMISSIONS). A user may hold
several roles. `require(user, action)` raises PermissionDenied before anything is read or
written; pages may hide buttons too, but that is convenience, not access control.

The login form itself (streamlit-authenticator) lives in lib/ui.py; this module is plain
Python so that the CLI and tests can use it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import bcrypt

from lib.security import audit
from lib.core import warehouse, errors

ROLES = ("manager", "marketing", "steward", "admin")
ALL = frozenset(ROLES)

# action -> roles allowed. Keep in step with the table in docs/security.md and GUIDE.md.
PERMISSIONS: dict[str, frozenset[str]] = {
    # reading
    "view_dashboard":      ALL,
    "view_customer":       ALL,                                  # profile with PII masked
    "view_contact_pii":    frozenset({"steward", "admin"}),      # phone/email unmasked
    "reveal_id_number":    frozenset({"admin"}),                 # reason required, audited
    # data stewardship
    "edit_customer":       frozenset({"steward", "admin"}),
    "resolve_flags":       frozenset({"steward", "admin"}),
    "merge_customers":     frozenset({"steward", "admin"}),
    "import_data":         frozenset({"steward", "admin"}),
    "run_quality":         frozenset({"steward", "admin"}),
    "edit_consent":        frozenset({"steward", "admin"}),
    # marketing
    "manage_tags":         frozenset({"marketing", "admin"}),
    "manage_segments":     frozenset({"marketing", "admin"}),
    "export_audience":     frozenset({"marketing", "admin"}),
    "train_models":        frozenset({"marketing", "admin"}),
    # administration
    "manage_users":        frozenset({"admin"}),
    "read_audit":          frozenset({"admin"}),
    "manage_backups":      frozenset({"admin"}),
    "restore_backup":      frozenset({"admin"}),
    "erase_customer":      frozenset({"admin"}),
    "export_subject_data": frozenset({"admin"}),
    "change_settings":     frozenset({"admin"}),
    "rotate_keys":         frozenset({"admin"}),
}

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15

# Demo logins, created only by `seed_demo_users` (demo mode / `make run`). Passwords are
# stored hashed; the plain text is printed by `make run` so people can try each role.
DEMO_USERS: dict[str, dict] = {
    "manager":   {"name": "Wang Fang 王芳",   "roles": ["manager"],   "password": "manager-demo"},
    "marketing": {"name": "Li Na 李娜",       "roles": ["marketing"], "password": "marketing-demo"},
    "steward":   {"name": "Zhang Wei 张伟",   "roles": ["steward"],   "password": "steward-demo"},
    "admin":     {"name": "Chen Jie 陈杰",    "roles": ["admin"],     "password": "admin-demo"},
    "lead":      {"name": "Liu Yang 刘洋",    "roles": ["manager", "marketing"], "password": "lead-demo"},
}


class PermissionDenied(errors.NotAllowedError):
    """The user's roles do not allow this action."""

    def __init__(self, user: "User", action: str):
        super().__init__(f"{user.username} ({', '.join(sorted(user.roles)) or 'no role'}) "
                         f"may not {action.replace('_', ' ')}.")
        self.action = action


class AuthError(errors.UserError):
    """A login or account problem with a message meant for people."""


@dataclass(frozen=True)
class User:
    username: str
    name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)

    def can(self, action: str) -> bool:
        return can(self, action)


SYSTEM = User("system", "System job", frozenset({"admin"}))


def can(user: User | None, action: str) -> bool:
    if action not in PERMISSIONS:
        raise KeyError(f"Unknown action {action!r}; add it to lib.security.auth.PERMISSIONS")
    return user is not None and bool(PERMISSIONS[action] & set(user.roles))


def require(user: User | None, action: str) -> None:
    """Raise PermissionDenied unless the user holds a role allowed to do `action`."""
    if not can(user, action):
        if user is not None:
            audit.record(None, user, "access.denied", detail={"action": action})
        raise PermissionDenied(user or User("anonymous"), action)


# ---------------------------------------------------------------- passwords and accounts

def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def _roles(value) -> frozenset[str]:
    return frozenset(value or ())


# A signed-in session re-checks its account (enabled? which roles?) on every page run, so a
# disabled user is stopped on their next click. Those checks may use rows read at most
# SESSION_RECHECK_SECONDS ago by this process: a change made here (lib/admin/users.py, a restore,
# an activity stamp) forgets them at once, one made by another process (a second app replica
# on a lake) is seen within those seconds. It spares a query per page run (~5 ms of catalog
# lookups on a lake). Logins always read the table (passwords, failed attempts, lockouts).
SESSION_RECHECK_SECONDS = 5.0
_rows_cache: dict[str, tuple[float, list[dict]]] = {}   # warehouse location -> (read at, rows)


def user_rows(max_age: float = 0.0) -> list[dict]:
    """Every account as stored (one query per page run: see load_user, credentials); with
    max_age, as read by this process at most that many seconds ago."""
    where = warehouse.current_location().url
    hit = _rows_cache.get(where)
    if max_age > 0 and hit is not None and time.monotonic() - hit[0] < max_age:
        return hit[1]
    rows = warehouse.records("users_all")
    _rows_cache[where] = (time.monotonic(), rows)
    return rows


def forget_user_rows() -> None:
    """Drop the rows user_rows() keeps (after any change to an account, or a restore)."""
    _rows_cache.clear()


def load_user(username: str, rows: list[dict] | None = None) -> User | None:
    """The user as stored now, or None if unknown or disabled (sessions re-check every run).
    `rows`: user_rows() already read in this run."""
    if rows is None:
        row = warehouse.one("user_by_name", username=username)
    else:
        row = next((r for r in rows if r["username"] == username), None)
    if row is None or row["disabled"]:
        return None
    return User(row["username"], row["display_name"], _roles(row["roles"]))


def credentials(rows: list[dict] | None = None) -> dict:
    """Credentials in streamlit-authenticator's shape, for enabled and unlocked users only."""
    now = datetime.now()
    users = {}
    for row in rows if rows is not None else user_rows():
        if row["disabled"] or (row["locked_until"] is not None and row["locked_until"] > now):
            continue
        users[row["username"]] = {"name": row["display_name"], "email": row["email"] or "",
                                  "password": row["password_hash"], "roles": list(row["roles"])}
    return {"usernames": users}


def lock_remaining(username: str) -> timedelta | None:
    """How long the account stays locked, or None."""
    row = warehouse.one("user_by_name", username=username)
    if row and row["locked_until"] is not None and row["locked_until"] > datetime.now():
        return row["locked_until"] - datetime.now()
    return None


@warehouse.retrying
def record_login(username: str, success: bool) -> None:
    """Count failures (lock after MAX_FAILED_LOGINS for LOCK_MINUTES) and audit every attempt."""
    try:
        with warehouse.transaction() as tx:
            known = tx.one("user_by_name", username=username)
            if success:
                tx.run("user_login_succeeded", username=username)
                roles = known["roles"] if known else []
                audit.record(tx, User(username, roles=_roles(roles)), "login")
                return
            if known:
                tx.run("user_login_failed", username=username, max_attempts=MAX_FAILED_LOGINS,
                       lock_minutes=LOCK_MINUTES)
                locked = known["failed_attempts"] + 1 >= MAX_FAILED_LOGINS
            else:
                locked = False
            audit.record(tx, username[:80] or "(blank)", "login.failed",
                         detail={"known_user": bool(known), "locked": locked})
    finally:
        forget_user_rows()


def touch(username: str, last_activity: datetime | None = None) -> None:
    """Note activity (at most once a minute) for the access review. `last_activity`, when the
    caller has read it this run, spares the write transaction within that minute."""
    if last_activity is not None and last_activity > datetime.now() - timedelta(minutes=1):
        return
    try:
        with warehouse.transaction() as tx:
            tx.run("user_touch", username=username)
    except Exception as exc:  # noqa: BLE001 - activity stamps must never break a page
        if not warehouse.is_conflict(exc):
            raise
    forget_user_rows()     # or the next runs would see the old stamp and write it again


def create_user(tx: warehouse.Tx, username: str, name: str, roles: list[str], password: str,
                email: str | None = None) -> None:
    unknown = set(roles) - ALL
    if unknown:
        raise ValueError(f"Unknown role(s): {', '.join(sorted(unknown))}")
    tx.run("user_insert", username=username, display_name=name, email=email,
           password_hash=hash_password(password), roles=list(roles))


def seed_demo_users() -> list[str]:
    """Create the demo logins that do not exist yet; returns the names created."""
    created = []
    with warehouse.transaction() as tx:
        for username, spec in DEMO_USERS.items():
            if tx.one("user_by_name", username=username) is None:
                create_user(tx, username, spec["name"], spec["roles"], spec["password"],
                            f"{username}@demo.customer360.local")
                created.append(username)
        if created:
            audit.record(tx, SYSTEM, "user.seed_demo", "user", ",".join(created))
    return created
