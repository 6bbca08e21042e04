"""User administration: accounts, roles, disabling, passwords, and the access review.

Every function here is an admin action (`manage_users`), validated, and audited in the same
transaction as the change. Password hashes never reach the audit log or a DataFrame.

Revocation is immediate by construction: disabling an account, changing its roles and
resetting its password end every server-side session of the user in the same transaction
(lib/security/sessions.py), and the page guard (lib/ui/session.py) checks the session and re-reads the
user on every script run, so the user's open pages stop on their next click and a copied
login cookie signs nobody in.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime

import pandas as pd

from lib.security import audit, auth, passwords, sessions
from lib.core import warehouse, errors
from lib.security.auth import User

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
MAX_PASSWORD_BYTES = passwords.MAX_BYTES
DORMANT_AFTER_DAYS = 90  # an enabled account unused this long is flagged for review
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(errors.ValidationError):
    """An invalid user-administration request, with a message meant for people."""


# ---------------------------------------------------------------- validation


def _account_change(fn):
    """Every change here forgets the account rows the page guard may reuse (auth.user_rows),
    so a disabled user or a role change takes effect on this process's next page run."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            auth.forget_user_rows()
            sessions.forget()

    return wrapper


def _username(value: str) -> str:
    name = (value or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise AccountError(
            "A username is 2–32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter."
        )
    return name


def _roles(roles) -> list[str]:
    clean = sorted(set(roles or ()))
    if not clean:
        raise AccountError("Give the user at least one role.")
    unknown = set(clean) - auth.ALL
    if unknown:
        raise AccountError(f"Unknown role(s): {', '.join(sorted(unknown))}.")
    return clean


def _password(value: str, *user_inputs) -> str:
    """The policy of lib/security/passwords.py (length, zxcvbn strength, not built from the account's
    own name or e-mail)."""
    try:
        return passwords.check(value, user_inputs)
    except passwords.WeakPassword as exc:
        raise AccountError(str(exc)) from None


def _display_name(value: str) -> str:
    name = (value or "").strip()
    if not name or len(name) > 100:
        raise AccountError("A display name is 1–100 characters.")
    return name


def _email(value: str | None) -> str | None:
    email = (value or "").strip()
    if not email:
        return None
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise AccountError("That e-mail address does not look valid.")
    return email


def _existing(tx: warehouse.Tx, username: str) -> dict:
    row = tx.one("user_by_name", username=username)
    if row is None:
        raise AccountError(f"There is no user {username!r}.")
    return row


def _keep_an_admin(tx: warehouse.Tx, username: str, row: dict, *, losing_admin: bool) -> None:
    """Refuse the change that would leave nobody able to administer the app."""
    if losing_admin and "admin" in row["roles"] and not row["disabled"]:
        if tx.scalar("admin_enabled_admins") <= 1:
            raise AccountError(f"{username} is the last enabled admin: add another admin first.")


# ---------------------------------------------------------------- reads


def access_review(user: User, now: datetime | None = None, dormant_days: int = DORMANT_AFTER_DAYS) -> pd.DataFrame:
    """User, roles, last login, last activity, days inactive, and whether the account is dormant.

    "Now" is the wall clock here (not settings.as_of()): this reviews real people's access,
    not the demo data's business calendar.
    """
    auth.require(user, "manage_users")
    return warehouse.read("admin_access_review", now=now or datetime.now(), dormant_days=dormant_days)


# ---------------------------------------------------------------- writes


@warehouse.retrying
@_account_change
def add_user(user: User, username: str, name: str, roles, password: str, email: str | None = None) -> str:
    """Create an account with a bcrypt-hashed password; returns the normalised username."""
    auth.require(user, "manage_users")
    username, name = _username(username), _display_name(name)
    roles, email = _roles(roles), _email(email)
    password = _password(password, username, name, email)
    with warehouse.transaction() as tx:
        if tx.one("user_by_name", username=username) is not None:
            raise AccountError(f"The username {username!r} is taken.")
        auth.create_user(tx, username, name, roles, password, email)
        audit.record(
            tx,
            user,
            "user.create",
            "user",
            username,
            after={"username": username, "display_name": name, "email": email, "roles": roles, "disabled": False},
        )
    return username


@warehouse.retrying
@_account_change
def set_roles(user: User, username: str, roles) -> None:
    """Replace the user's roles (audited with before and after)."""
    auth.require(user, "manage_users")
    roles = _roles(roles)
    with warehouse.transaction() as tx:
        row = _existing(tx, username)
        _keep_an_admin(tx, username, row, losing_admin="admin" not in roles)
        tx.run("admin_user_set_roles", username=username, roles=roles)
        audit.record(
            tx, user, "user.roles", "user", username, before={"roles": sorted(row["roles"])}, after={"roles": roles}
        )
        if sorted(row["roles"]) != roles:  # signed-in sessions carry the old roles: end them
            sessions.revoke_user(tx, username, "user.roles", actor=user)


@warehouse.retrying
@_account_change
def set_disabled(user: User, username: str, disabled: bool) -> None:
    """Disable (revoked on the user's next action) or re-enable an account."""
    auth.require(user, "manage_users")
    with warehouse.transaction() as tx:
        row = _existing(tx, username)
        if disabled and username == user.username:
            raise AccountError("You cannot disable your own account.")
        if disabled:
            _keep_an_admin(tx, username, row, losing_admin=True)
        tx.run("admin_user_set_disabled", username=username, disabled=bool(disabled))
        audit.record(
            tx,
            user,
            "user.disable" if disabled else "user.enable",
            "user",
            username,
            before={"disabled": bool(row["disabled"])},
            after={"disabled": bool(disabled)},
        )
        if disabled:
            sessions.revoke_user(tx, username, "user.disable", actor=user)


def disable_user(user: User, username: str) -> None:
    set_disabled(user, username, True)


def enable_user(user: User, username: str) -> None:
    set_disabled(user, username, False)


@warehouse.retrying
@_account_change
def reset_password(user: User, username: str, new_password: str) -> None:
    """Set a new password (also clears a lockout). The audit entry records that, not the value."""
    auth.require(user, "manage_users")
    with warehouse.transaction() as tx:
        row = _existing(tx, username)
        password = _password(new_password, username, row["display_name"], row["email"])
        tx.run("admin_user_set_password", username=username, password_hash=auth.hash_password(password))
        tx.run("throttle_clear_user", username=username)
        audit.record(tx, user, "user.password_reset", "user", username)
        sessions.revoke_user(tx, username, "user.password_reset", actor=user)


@warehouse.retrying
@_account_change
def unlock(user: User, username: str) -> None:
    """End a lockout early (after checking with the person that the failures were theirs)."""
    auth.require(user, "manage_users")
    with warehouse.transaction() as tx:
        row = _existing(tx, username)
        tx.run("admin_user_unlock", username=username)
        tx.run("throttle_clear_user", username=username)
        audit.record(
            tx,
            user,
            "user.unlock",
            "user",
            username,
            before={"failed_attempts": row["failed_attempts"], "locked_until": row["locked_until"]},
        )


# ---------------------------------------------------------------- documentation


def permissions_table() -> str:
    """The roles × actions table of docs/security.md, generated from auth.PERMISSIONS."""
    header = "| action | " + " | ".join(auth.ROLES) + " |"
    rule = "|---|" + "---|" * len(auth.ROLES)
    rows = [
        f"| `{action}` | " + " | ".join("yes" if role in allowed else "–" for role in auth.ROLES) + " |"
        for action, allowed in auth.PERMISSIONS.items()
    ]
    return "\n".join([header, rule, *rows])
