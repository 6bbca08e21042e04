"""Server-side login sessions: started at a login, checked on every page run, revocable.

A login creates a row in `app_sessions` and hands the browser a random token inside a
cookie signed with the cookie key (HS256 JWT: `{"sid": token, "exp": ...}`). The warehouse
keeps only the token's SHA-256. A session is valid while its row is not revoked, was seen in
the last IDLE_MINUTES and is younger than MAX_HOURS, and its account is enabled. So:

* logging out revokes every open session of the user (other browsers and a copied cookie
  included), as do disabling the account, changing its roles and resetting its password
  (lib/admin/users.py calls `revoke_user` in the same transaction as the change);
* a cookie replayed after that signs nobody in; a cookie that is not ours (bad signature,
  `alg: none`, garbage, expired) is refused without an exception.

Cookie logins (`login.cookie`), logouts (`logout`) and revocations (`session.revoke`) are
audited. Plain Python: the page guard (lib/ui/session.py) and the tests call it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from lib.security import audit
from lib.core import config, warehouse

COOKIE_NAME = "c360_session"
MAX_HOURS = 12  # a working day: log in again after that, however active
IDLE_MINUTES = 30  # no page run for this long ends the session
SEEN_EVERY_SECONDS = 60  # last_seen is written at most this often per session
KNOWN_CLIENT_DAYS = 30  # a client that signed in as a user this recently is "known" (auth.py)
# A session's row may be reused for this long by this process (as auth.SESSION_RECHECK_SECONDS
# for account rows): revocations made in this process forget it at once; one made by another
# process (a CLI job, a second app replica) is seen within these seconds.
RECHECK_SECONDS = 5.0

_rows: dict[str, tuple[float, dict]] = {}  # session_id -> (read at, row)


@dataclass(frozen=True)
class Session:
    session_id: str
    username: str
    client: str
    created_at: datetime


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def forget() -> None:
    """Drop the session rows this process keeps (after any revocation, a restore)."""
    _rows.clear()


# ---------------------------------------------------------------- the cookie


def cookie_value(token: str, now: datetime | None = None) -> str:
    """The signed cookie that carries `token` (expires with the session's MAX_HOURS)."""
    exp = (now or datetime.now()) + timedelta(hours=MAX_HOURS)
    return jwt.encode({"sid": token, "exp": int(exp.timestamp())}, config.cookie_key(), algorithm="HS256")


def token_from_cookie(value: str | None) -> str | None:
    """The token inside a cookie we signed, or None for anything else: no cookie, a bad
    signature, `alg: none`, an expired or malformed token. Never raises."""
    if not value or len(value) > 4096:
        return None
    try:
        claims = jwt.decode(value, config.cookie_key(), algorithms=["HS256"], options={"require": ["exp", "sid"]})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    token = claims.get("sid")
    return token if isinstance(token, str) and 20 <= len(token) <= 200 else None


# ---------------------------------------------------------------- lifecycle


def open_session(tx: warehouse.Tx, username: str, client: str) -> str:
    """A new session, in the caller's transaction, for a user who has just proven their
    password (auth.authenticate); returns its token."""
    token = secrets.token_urlsafe(32)
    tx.run("session_insert", session_id=_session_id(token), username=username, client=client[:200], now=_now())
    return token


@warehouse.retrying
def start(username: str, client: str) -> str:
    """A new session in its own transaction (tests, tools); returns its token."""
    with warehouse.transaction(bookkeeping=True) as tx:
        return open_session(tx, username, client)


def check(token: str | None, now: datetime | None = None) -> Session | None:
    """The session of this token if it is still valid, else None (and a session that ran out
    is marked so, with reason `idle` or `expired`). Notes activity at most once a minute."""
    if not token:
        return None
    sid = _session_id(token)
    now = now or _now()
    hit = _rows.get(sid)
    row: dict | None
    if hit is not None and time.monotonic() - hit[0] < RECHECK_SECONDS:
        row = hit[1]
    else:
        row = warehouse.one("session_by_id", session_id=sid)
        if row is None:
            return None
        _rows[sid] = (time.monotonic(), row)
    if row["revoked_at"] is not None:
        return None
    ended = (
        "expired"
        if row["created_at"] < now - timedelta(hours=MAX_HOURS)
        else "idle"
        if row["last_seen"] < now - timedelta(minutes=IDLE_MINUTES)
        else None
    )
    if ended:
        _revoke_one(sid, row["username"], ended)
        return None
    if row["last_seen"] < now - timedelta(seconds=SEEN_EVERY_SECONDS):
        try:
            with warehouse.transaction(bookkeeping=True) as tx:
                tx.run("session_seen", session_id=sid, now=now)
            _rows[sid] = (time.monotonic(), {**row, "last_seen": now})
        except Exception as exc:  # noqa: BLE001 - an activity stamp must never break a page
            if not warehouse.is_conflict(exc):
                raise
    return Session(sid, row["username"], row["client"], row["created_at"])


@warehouse.retrying
def resume(token: str | None, client: str) -> Session | None:
    """Sign a new page load in from the login cookie's token: the session if valid (audited
    as `login.cookie`), else None (a refused cookie is audited as `login.cookie_refused`)."""
    session = check(token)
    with warehouse.transaction(bookkeeping=True) as tx:
        if session is None:
            audit.record(tx, "(cookie)", "login.cookie_refused", detail={"client": client, "signed": token is not None})
            return None
        row = tx.one("user_by_name", username=session.username)
        roles = frozenset(row["roles"]) if row else frozenset()
        audit.record(
            tx,
            _Actor(session.username, roles),
            "login.cookie",
            detail={"client": client, "session_started": session.created_at},
        )
    return session


@dataclass(frozen=True)
class _Actor:  # what audit.record reads from a user (lib.security.auth imports this module)
    username: str
    roles: frozenset[str]


def _revoke_one(sid: str, username: str, reason: str) -> None:
    try:
        with warehouse.transaction(bookkeeping=True) as tx:
            tx.run("session_revoke", session_id=sid, reason=reason, now=_now())
            audit.record(tx, username, "session.revoke", "user", username, detail={"reason": reason, "sessions": 1})
    except Exception as exc:  # noqa: BLE001 - the session is refused either way
        if not warehouse.is_conflict(exc):
            raise
    forget()


def revoke_user(tx: warehouse.Tx, username: str, reason: str, actor=None) -> int:
    """End every open session of `username` inside the caller's transaction (logout, disable,
    role change, password reset); returns how many. Audited as `session.revoke` (by `actor`,
    default the user) when any."""
    count = tx.scalar("sessions_open_of_user", username=username) or 0
    if count:
        tx.run("sessions_revoke_user", username=username, reason=reason, now=_now())
        audit.record(
            tx, actor or username, "session.revoke", "user", username, detail={"reason": reason, "sessions": int(count)}
        )
    forget()
    return int(count)


@warehouse.retrying
def log_out(user, client: str) -> int:
    """The user logs out: every session of theirs ends (this browser, others, copied cookies).
    Audited as `logout`; returns the number of sessions ended."""
    try:
        with warehouse.transaction(bookkeeping=True) as tx:
            ended = revoke_user(tx, user.username, "logout", actor=user)
            audit.record(tx, user, "logout", detail={"client": client, "sessions_ended": ended})
        return ended
    finally:
        forget()


def known_client(tx: warehouse.Tx, username: str, client: str, now: datetime | None = None) -> bool:
    """Has `client` started a session as `username` in the last KNOWN_CLIENT_DAYS?"""
    since = (now or _now()) - timedelta(days=KNOWN_CLIENT_DAYS)
    return bool(tx.scalar("session_known_client", username=username, client=client, since=since))
