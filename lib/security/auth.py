"""Users, roles and the permission check that every lib/ write and PII read calls.

One table maps each action to the roles allowed to do it (PERMISSIONS). A user may hold
several roles. `require(user, action)` raises PermissionDenied before anything is read or
written; pages may hide buttons too, but that is convenience, not access control.

The login form itself lives in lib/ui/session.py; this module (passwords, logins and their
throttling: `authenticate`) is plain Python so that the CLI and tests can use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import bcrypt

from lib.security import audit, sessions
from lib.core import warehouse, errors

ROLES = ("manager", "marketing", "steward", "admin")
ALL = frozenset(ROLES)

# action -> roles allowed. Keep in step with the table in docs/security.md and GUIDE.md.
PERMISSIONS: dict[str, frozenset[str]] = {
    # reading
    "view_dashboard": ALL,
    "view_customer": ALL,  # profile with PII masked
    "view_contact_pii": frozenset({"steward", "admin"}),  # phone/email unmasked
    "reveal_id_number": frozenset({"admin"}),  # reason required, audited
    # data stewardship
    "edit_customer": frozenset({"steward", "admin"}),
    "delete_customer": frozenset({"steward", "admin"}),  # soft delete and restore, reason required
    "resolve_flags": frozenset({"steward", "admin"}),
    "merge_customers": frozenset({"steward", "admin"}),
    "import_data": frozenset({"steward", "admin"}),
    "run_quality": frozenset({"steward", "admin"}),
    "edit_consent": frozenset({"steward", "admin"}),
    "log_interaction": frozenset({"steward", "admin"}),  # calls, visits, notes, follow-ups
    "record_feedback": frozenset({"steward", "admin"}),  # enter a survey response, follow up a detractor
    # marketing
    "manage_tags": frozenset({"marketing", "admin"}),
    "manage_segments": frozenset({"marketing", "admin"}),
    "export_audience": frozenset({"marketing", "admin"}),
    "train_models": frozenset({"marketing", "admin"}),
    "export_scores": frozenset({"marketing", "admin"}),  # churn / CLV score files
    "manage_campaigns": frozenset({"marketing", "admin"}),  # create and launch campaigns
    "export_contacts": frozenset({"marketing", "admin"}),  # contact lists in clear (approved)
    "approve_contact_export": frozenset({"manager", "admin"}),  # never one's own request
    # administration
    "manage_users": frozenset({"admin"}),
    "read_audit": frozenset({"admin"}),
    "manage_backups": frozenset({"admin"}),
    "restore_backup": frozenset({"admin"}),
    "erase_customer": frozenset({"admin"}),
    "export_subject_data": frozenset({"admin"}),
    "change_settings": frozenset({"admin"}),
    "rotate_keys": frozenset({"admin"}),
    # alerts (lib/admin/alerts.py): stewards see and acknowledge quality alerts, admins all
    "view_alerts": frozenset({"steward", "admin"}),
    "manage_alerts": frozenset({"admin"}),
    "manage_jobs": frozenset({"admin"}),  # scheduled jobs: see, run now, change schedules
}

MAX_FAILED_LOGINS = 5  # per (username, client): see "login and throttling" below
LOCK_MINUTES = 15

# Demo logins, created only by `seed_demo_users` (demo mode / `make run`). Passwords are
# stored hashed; the plain text is printed by `make run` so people can try each role.
DEMO_USERS: dict[str, dict] = {
    "manager": {"name": "Wang Fang 王芳", "roles": ["manager"], "password": "manager-demo"},
    "marketing": {"name": "Li Na 李娜", "roles": ["marketing"], "password": "marketing-demo"},
    "steward": {"name": "Zhang Wei 张伟", "roles": ["steward"], "password": "steward-demo"},
    "admin": {"name": "Chen Jie 陈杰", "roles": ["admin"], "password": "admin-demo"},
    "lead": {"name": "Liu Yang 刘洋", "roles": ["manager", "marketing"], "password": "lead-demo"},
}


class PermissionDenied(errors.NotAllowedError):
    """The user's roles do not allow this action."""

    def __init__(self, user: "User", action: str):
        super().__init__(
            f"{user.username} ({', '.join(sorted(user.roles)) or 'no role'}) may not {action.replace('_', ' ')}."
        )
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


# ---------------------------------------------------------------- PII readers and writers
#
# Every lib/ function that returns personal data (reader) or changes it (writer) is declared
# with one of these decorators, naming the action it checks. The decorator does not replace
# the check (the function body calls require(user, action) first, where a reader can see it);
# it makes the list of PII functions something tests can enumerate:
# tests/unit/test_security_matrix.py calls each one as every role, and fails when a public
# function in lib/ uses a query on personal data without being declared here (or in
# PII_INTERNAL with the reason it returns none).

PII_FUNCTIONS: dict[str, tuple[str, str]] = {}  # "module.function" -> (kind, action)

# Public functions that touch personal data but return none of it to their caller (jobs that
# write aggregates or scores, the matcher's training, the erasure's own catalog reads). The
# security matrix accepts them only from this list, each with its reason.
PII_INTERNAL: dict[str, str] = {}


def _declare(kind: str, action: str):
    if action not in PERMISSIONS:
        raise KeyError(f"Unknown action {action!r}; add it to lib.security.auth.PERMISSIONS")

    def mark(func):
        name = f"{func.__module__.removeprefix('lib.')}.{func.__name__}"
        PII_FUNCTIONS[name] = (kind, action)
        func.__pii__ = (kind, action)
        return func

    return mark


def pii_reader(action: str):
    """Declare a function that returns personal data; its body calls require(user, action)
    and masks what it returns for the user's roles (lib.security.privacy.mask_value and friends)."""
    return _declare("read", action)


def pii_writer(action: str):
    """Declare a function that writes personal data; its body calls require(user, action)."""
    return _declare("write", action)


def pii_internal(reason: str):
    """Declare a public function that reads personal data but returns none of it."""

    def mark(func):
        PII_INTERNAL[f"{func.__module__.removeprefix('lib.')}.{func.__name__}"] = reason
        return func

    return mark


def actions_for(roles: set[str] | frozenset[str]) -> list[str]:
    return sorted(a for a, allowed in PERMISSIONS.items() if allowed & set(roles))


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
_rows_cache: dict[str, tuple[float, list[dict]]] = {}  # warehouse location -> (read at, rows)


def user_rows(max_age: float = 0.0) -> list[dict]:
    """Every account as stored (one query per page run: see load_user); with
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


# ---------------------------------------------------------------- login and throttling
#
# Failed logins are counted per (typed username, client) and, more slowly, per username over
# every client (row client '*'). A pair that fails MAX_FAILED_LOGINS times is refused for
# LOCK_MINUTES (further attempts from it extend that); the account itself is never locked, so
# nobody can keep `admin` out from another client. After GLOBAL_FAILURES failures within
# GLOBAL_WINDOW_MINUTES from all clients, clients that have not signed in as that user in the
# last sessions.KNOWN_CLIENT_DAYS wait 1, 2, 4 ... (at most GLOBAL_MAX_LOCK_MINUTES) minutes
# between attempts. Unknown usernames are counted the same way, and every refusal (unknown
# user, wrong password, disabled account, throttled) gets the same message, so a login attempt
# tells nobody which accounts exist.

GLOBAL = "*"
GLOBAL_FAILURES = 20
GLOBAL_WINDOW_MINUTES = 60
GLOBAL_MAX_LOCK_MINUTES = 60
# Checked against when the username is unknown or disabled, so that a refusal takes as long
# as a wrong password (bcrypt's cost) and its timing does not tell either.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt()).decode()


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    retry_minutes: int = 0  # how long this client must wait for this name (0: not throttled)
    token: str | None = field(default=None, repr=False, compare=False)  # the new session's


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() // 60) + (1 if delta.total_seconds() % 60 else 0))


def _throttle_rows(tx: warehouse.Tx, username: str, client: str) -> tuple[dict | None, dict | None]:
    return (
        tx.one("throttle_row", username=username, client=client),
        tx.one("throttle_row", username=username, client=GLOBAL),
    )


def _throttled_for(tx: warehouse.Tx, username: str, client: str, now: datetime) -> timedelta | None:
    """How long `client` must still wait before trying `username`, or None."""
    pair, every = _throttle_rows(tx, username, client)
    waits = []
    if pair and pair["locked_until"] is not None and pair["locked_until"] > now:
        waits.append(pair["locked_until"] - now)
    if (
        every
        and every["locked_until"] is not None
        and every["locked_until"] > now
        and not sessions.known_client(tx, username, client, now)
    ):
        waits.append(every["locked_until"] - now)
    return max(waits) if waits else None


def _count_failure(tx: warehouse.Tx, username: str, client: str, now: datetime) -> bool:
    """Count one failure for the pair and for the username; True if the pair is now locked.
    A pair lock that has run out starts a fresh count; failures while locked extend it."""
    pair, every = _throttle_rows(tx, username, client)
    lock_over = pair is not None and pair["locked_until"] is not None and pair["locked_until"] <= now
    failures = 1 if pair is None or lock_over else int(pair["failures"]) + 1
    first = now if pair is None or lock_over else pair["first_failure"]
    locked_until = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILED_LOGINS else None
    tx.run(
        "throttle_put",
        username=username,
        client=client,
        failures=failures,
        first_failure=first,
        locked_until=locked_until,
    )
    fresh = every is None or every["first_failure"] < now - timedelta(minutes=GLOBAL_WINDOW_MINUTES)
    total = 1 if fresh or every is None else int(every["failures"]) + 1
    over = total - GLOBAL_FAILURES
    global_until = now + timedelta(minutes=min(2**over, GLOBAL_MAX_LOCK_MINUTES)) if over >= 0 else None
    tx.run(
        "throttle_put",
        username=username,
        client=GLOBAL,
        failures=total,
        first_failure=now if fresh or every is None else every["first_failure"],
        locked_until=global_until,
    )
    if tx.one("user_by_name", username=username) is not None:
        tx.run("user_failed_login_counted", username=username)
    return locked_until is not None


def lock_remaining(username: str, client: str | None = None) -> timedelta | None:
    """How long `client` (None: the most throttled client, for the admin page) must still
    wait before it may try to log in as `username`, or None."""
    now = datetime.now()
    rows = warehouse.records("throttle_of_user", username=username)
    if client is not None:
        with warehouse.transaction(bookkeeping=True) as tx:
            return _throttled_for(tx, username, client, now)
    ends = [r["locked_until"] for r in rows if r["locked_until"] is not None and r["locked_until"] > now]
    return max(ends) - now if ends else None


def authenticate(username: str, password: str, client: str = "local") -> LoginResult:
    """Check a login from `client`: throttling first, then the password (bcrypt), then count
    and audit the outcome (`login`, or `login.failed` with the reason, never the password).
    A success starts a server-side session (lib/security/sessions.py): its token is in the result.

    The password is checked once, between two short transactions that are each re-run on a
    write conflict: people signing in as one user at the same moment conflict on the user's
    row, and re-running bcrypt (0.25 s of CPU) with every retry made logins pile up."""
    username = (username or "").strip()[:80]
    client = (client or "local")[:200]
    now = datetime.now()
    throttled = _refuse_if_throttled(username, client, now)
    if throttled is not None:
        return throttled
    row = warehouse.one("user_by_name", username=username)
    usable = row is not None and not row["disabled"]
    ok = check_password(password, row["password_hash"] if row is not None and usable else _DUMMY_HASH) and usable
    try:
        return _record_outcome(username, client, now, row if ok else None, known_user=row is not None)
    finally:
        forget_user_rows()


@warehouse.retrying
def _refuse_if_throttled(username: str, client: str, now: datetime) -> LoginResult | None:
    with warehouse.transaction(bookkeeping=True) as tx:
        wait = _throttled_for(tx, username, client, now)
        if wait is None:
            return None
        _count_failure(tx, username, client, now)  # attempts while throttled extend it
        audit.record(tx, username or "(blank)", "login.failed", detail={"client": client, "reason": "throttled"})
        return LoginResult(None, _minutes(_throttled_for(tx, username, client, now) or wait))


@warehouse.retrying
def _record_outcome(username: str, client: str, now: datetime, row: dict | None, known_user: bool) -> LoginResult:
    """`row` is the user's row when the password was right, else None."""
    with warehouse.transaction(bookkeeping=True) as tx:
        if row is not None:
            tx.run("user_login_succeeded", username=username)
            tx.run("throttle_clear_pair", username=username, client=client)
            user = User(row["username"], row["display_name"], _roles(row["roles"]))
            token = sessions.open_session(tx, username, client)
            audit.record(tx, user, "login", detail={"client": client})
            return LoginResult(user, 0, token)
        locked = _count_failure(tx, username, client, now)
        audit.record(
            tx,
            username or "(blank)",
            "login.failed",
            detail={"client": client, "known_user": known_user, "locked": locked},
        )
        wait = _throttled_for(tx, username, client, now)
        return LoginResult(None, _minutes(wait) if wait else 0)


def record_login(username: str, success: bool, client: str = "local") -> None:
    """Count one attempt as if it had been made (tests and tools): a failure is counted and
    audited like a wrong password; a success like a right one."""
    if success:
        with warehouse.transaction(bookkeeping=True) as tx:
            row = tx.one("user_by_name", username=username)
            tx.run("user_login_succeeded", username=username)
            tx.run("throttle_clear_pair", username=username, client=client)
            audit.record(
                tx, User(username, roles=_roles(row["roles"] if row else [])), "login", detail={"client": client}
            )
    else:
        now = datetime.now()
        with warehouse.transaction(bookkeeping=True) as tx:
            row = tx.one("user_by_name", username=username)
            locked = _count_failure(tx, username, client, now)
            audit.record(
                tx,
                username[:80] or "(blank)",
                "login.failed",
                detail={"client": client, "known_user": row is not None, "locked": locked},
            )
    forget_user_rows()


def touch(username: str, last_activity: datetime | None = None) -> None:
    """Note activity (at most once a minute) for the access review. `last_activity`, when the
    caller has read it this run, spares the write transaction within that minute."""
    if last_activity is not None and last_activity > datetime.now() - timedelta(minutes=1):
        return
    try:
        with warehouse.transaction(bookkeeping=True) as tx:
            tx.run("user_touch", username=username)
    except Exception as exc:  # noqa: BLE001 - activity stamps must never break a page
        if not warehouse.is_conflict(exc):
            raise
    forget_user_rows()  # or the next runs would see the old stamp and write it again


def create_user(
    tx: warehouse.Tx, username: str, name: str, roles: list[str], password: str, email: str | None = None
) -> None:
    unknown = set(roles) - ALL
    if unknown:
        raise ValueError(f"Unknown role(s): {', '.join(sorted(unknown))}")
    tx.run(
        "user_insert",
        username=username,
        display_name=name,
        email=email,
        password_hash=hash_password(password),
        roles=list(roles),
    )


def seed_demo_users() -> list[str]:
    """Create the demo logins that do not exist yet; returns the names created."""
    created = []
    with warehouse.transaction() as tx:
        for username, spec in DEMO_USERS.items():
            if tx.one("user_by_name", username=username) is None:
                create_user(
                    tx, username, spec["name"], spec["roles"], spec["password"], f"{username}@demo.customer360.local"
                )
                created.append(username)
        if created:
            audit.record(tx, SYSTEM, "user.seed_demo", "user", ",".join(created))
    return created
