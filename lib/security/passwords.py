"""Password policy: length limits and zxcvbn's strength estimate (Dropbox's zxcvbn, Python port).

A new password (lib/admin/users.py: add_user, reset_password; the CLI and the Users page call those)
needs MIN_LENGTH characters, at most MAX_BYTES bytes (bcrypt's limit) and a zxcvbn score of at
least MIN_SCORE (0-4: 3 is "safely unguessable: moderate protection from offline slow-hash
scenarios"). Dictionary words, common passwords, keyboard walks, repeats such as ten identical
characters, dates and the account's own username/name/e-mail score low. A refusal carries
zxcvbn's warning and suggestions.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_BYTES = 72  # bcrypt ignores (5.x: refuses) anything longer
MIN_SCORE = 3


class WeakPassword(ValueError):
    """The password breaks the policy; the message says why and how to do better."""


def check(password: str, user_inputs: list[str] | tuple[str, ...] = ()) -> str:
    """The password if it meets the policy, else WeakPassword with a message for people.
    `user_inputs`: the account's username, name, e-mail (a password built from them is weak)."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password needs at least {MIN_LENGTH} characters.")
    if len(password.encode()) > MAX_BYTES:
        raise WeakPassword(f"A password may be at most {MAX_BYTES} bytes long.")
    inputs = [str(v) for v in user_inputs if v]
    # zxcvbn's matching is quadratic in the length; 72 bytes is well within what it handles.
    result = zxcvbn(password, user_inputs=inputs)
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        hints = [h for h in [feedback.get("warning"), *(feedback.get("suggestions") or [])] if h]
        raise WeakPassword(
            "This password is too easy to guess"
            + (": " + " ".join(hints) if hints else ".")
            + " Use a longer passphrase of uncommon words."
        )
    return password
