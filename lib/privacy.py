"""Field encryption, keyed hashes and masking of personal data.

Resident-ID numbers are encrypted with Fernet (AES-128-CBC + HMAC, from `cryptography`).
MultiFernet lets us rotate keys: the newest key encrypts, every listed key decrypts.
A keyed hash (HMAC-SHA256) of the normalised number supports exact look-ups and
de-duplication without decrypting anything.
"""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lib import config


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def cipher() -> MultiFernet:
    return _fernet(tuple(config.field_keys()))


def encrypt(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    return cipher().encrypt(value.encode()).decode()


def encrypt_many(values: list[str | None]) -> list[str | None]:
    """Encrypt a column of values (None stays None)."""
    f = cipher()
    return [f.encrypt(v.encode()).decode() if v else None for v in values]


def decrypt(token: str | None) -> str | None:
    if token in (None, ""):
        return None
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The value cannot be decrypted with the configured keys "
                         "(was a field key removed before rotation finished?)") from exc


def rotate_token(token: str | None) -> str | None:
    """Re-encrypt one token under the newest key."""
    return cipher().rotate(token.encode()).decode() if token else None


def id_hash(value: str | None) -> str | None:
    """Keyed hash of an identifier, normalised (upper-case, no spaces)."""
    if value in (None, ""):
        return None
    norm = "".join(value.split()).upper()
    return hmac.new(config.hash_key(), norm.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- masking

def mask_phone(phone: str | None) -> str | None:
    """+8613812345678 -> +86 138****5678; keeps the country code, the first 3 and last 4 digits."""
    if not phone:
        return phone
    digits = phone.lstrip("+")
    if phone.startswith("+86") and len(digits) == 13:
        national = digits[2:]
        return f"+86 {national[:3]}****{national[-4:]}"
    if len(digits) <= 6:
        return "*" * len(digits)
    prefix = "+" if phone.startswith("+") else ""
    return f"{prefix}{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(email: str | None) -> str | None:
    """zhang.wei@example.com -> z***@example.com."""
    if not email or "@" not in email:
        return "***" if email else email
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_id_number(last4: str | None) -> str | None:
    """Resident ID shown as 14 stars and its last four characters."""
    return f"{'*' * 14}{last4}" if last4 else None


def mask_text(value: str | None, keep: int = 1) -> str | None:
    """Generic masking for free text such as street addresses: first characters only."""
    if not value:
        return value
    return value[:keep] + "*" * max(len(value) - keep, 2)


# ---------------------------------------------------------------- role-aware presentation

CONTACT_FIELDS = {"mobile": mask_phone, "email": mask_email}


def can_see_contacts(user) -> bool:
    from lib import auth  # local import: auth imports audit, which must not import privacy
    return auth.can(user, "view_contact_pii")


def mask_record(user, record: dict) -> dict:
    """A customer record as this user may see it: contacts masked unless the role allows,
    the resident ID always masked (revealing it is a separate, audited action)."""
    out = dict(record)
    if not can_see_contacts(user):
        for field, mask in CONTACT_FIELDS.items():
            if field in out:
                out[field] = mask(out[field])
    if "id_number_enc" in out:
        out.pop("id_number_enc")
    if "id_number_last4" in out:
        out["id_number"] = mask_id_number(out.pop("id_number_last4"))
    out.pop("id_number_hash", None)
    return out


def mask_frame(user, frame):
    """Same as mask_record for a small DataFrame (a page of results, an export)."""
    frame = frame.copy()
    if not can_see_contacts(user):
        for field, mask in CONTACT_FIELDS.items():
            if field in frame.columns:
                frame[field] = frame[field].map(lambda v: mask(v) if isinstance(v, str) else v)
    if "id_number_last4" in frame.columns:
        frame["id_number"] = frame.pop("id_number_last4").map(
            lambda v: mask_id_number(v) if isinstance(v, str) else None)
    return frame.drop(columns=[c for c in ("id_number_enc", "id_number_hash") if c in frame.columns])
