"""Settings from the environment, then `.streamlit/secrets.toml`, then demo defaults.

Environment variables win so that CI, cron jobs and containers can configure the app
without a secrets file. Secrets never live in the repository: in demo mode the keys are
generated once into `data/demo-keys.toml` (git-ignored); outside demo mode they must be set.
"""

from __future__ import annotations

import math
import os
import secrets
import tomllib
from collections import Counter
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"
DEMO_KEYS_FILE = DATA_DIR / "demo-keys.toml"
DEFAULT_WAREHOUSE = DATA_DIR / "warehouse.duckdb"


class ConfigError(RuntimeError):
    """The app is not configured well enough to run safely."""


def _secrets() -> dict:
    if SECRETS_FILE.exists():
        with SECRETS_FILE.open("rb") as fh:
            return tomllib.load(fh)
    return {}


def setting(name: str, default: str | None = None) -> str | None:
    """`C360_<NAME>` from the environment, else `<name>` from secrets.toml, else default."""
    env = os.environ.get(f"C360_{name.upper()}")
    if env not in (None, ""):
        return env
    value = _secrets().get(name.lower())
    return str(value) if value not in (None, "") else default


def demo_mode() -> bool:
    return (setting("demo", "0") or "0").lower() in ("1", "true", "yes")


def warehouse_location() -> str:
    """A file path, a SQLAlchemy URL, or a `ducklake:` spec (see lib/core/warehouse.py)."""
    return setting("warehouse", str(DEFAULT_WAREHOUSE))


def _demo_keys() -> dict:
    """Random keys for the demo warehouse, created on first use and kept beside it (0600)."""
    if not DEMO_KEYS_FILE.exists():
        private_dir(DEMO_KEYS_FILE.parent)
        text = (
            f'cookie_key = "{secrets.token_urlsafe(32)}"\n'
            f'field_keys = "{Fernet.generate_key().decode()}"\n'
            f'hash_key = "{secrets.token_urlsafe(32)}"\n'
        )
        try:  # created 0600 from the start: no moment where another user could read it
            fd = os.open(DEMO_KEYS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it meanwhile
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
    return _read_toml(DEMO_KEYS_FILE)


def _demo_value(name: str) -> str | None:
    """The generated demo key `name`, when a demo keys file exists (to refuse it outside demo)."""
    if not DEMO_KEYS_FILE.exists():
        return None
    try:
        value = _read_toml(DEMO_KEYS_FILE).get(name)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return str(value) if value else None


# ---------------------------------------------------------------- private files


def restrict_new_files() -> None:
    """Files this process creates from now on are 0600 and directories 0700 (umask 077).

    Called before the warehouse file is opened: DuckDB creates the file and its write-ahead
    log (re-created after every checkpoint) with the process umask, so the umask is the only
    way to have them private from their first byte. The process holds personal data and keys;
    nothing it writes (exports included) is meant for other local users.
    """
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700 directories; an existing one is left as is."""
    path = Path(path)
    if not path.exists():
        restrict_new_files()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> None:
    """Make an existing file 0600 (the warehouse file, its log) when this user owns it."""
    try:
        if path.exists() and path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


# ---------------------------------------------------------------- key checks

MIN_KEY_CHARS = 32
MIN_KEY_BITS = 90  # of the key text's character entropy (a 32-character hex key has ~120)
MIN_DISTINCT_CHARS = 8  # with 90 bits: no token_hex(16) in 300,000 drawn was refused


def _periodic(text: str) -> bool:
    """A word repeated (`passwordpassword…`, `abcabc…`)."""
    n = len(text)
    return any(text == (text[:p] * (n // p + 1))[:n] for p in range(1, n // 2 + 1))


def _entropy_bits(text: str) -> float:
    """Length × Shannon entropy of the key's own characters: a crude but honest lower bar
    (spaces, `aaaa…`, `abab…` or a word repeated score far below a random key)."""
    counts = Counter(text)
    n = len(text)
    return -sum(c * math.log2(c / n) for c in counts.values()) if n else 0.0


def _strong_secret(variable: str, key: str) -> None:
    if not key.strip():
        raise ConfigError(
            f"{variable} is blank: set it to a random string of at least "
            f"{MIN_KEY_CHARS} characters ({_GENERATE_SECRET})."
        )
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{variable} must be at least {MIN_KEY_CHARS} characters long ({_GENERATE_SECRET}).")
    if _entropy_bits(key) < MIN_KEY_BITS or len(set(key)) < MIN_DISTINCT_CHARS or _periodic(key):
        raise ConfigError(
            f"{variable} is too predictable (repeated or few distinct characters): "
            f"use a random string ({_GENERATE_SECRET})."
        )


_GENERATE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
_GENERATE_FERNET = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


def check_keys(*, cookie: bool = True) -> None:
    """Check every configured key now, raising ConfigError with one line naming the variable.

    The app calls it before each page, every CLI job before any work (`cookie=False`: jobs
    sign no cookies, but a cookie key that is set is checked too). Outside demo mode the
    generated demo keys are refused, as are short or predictable secrets and field keys that
    are not Fernet keys.
    """
    field_keys()
    hash_key()
    if cookie or setting("cookie_key"):
        cookie_key()


@lru_cache(maxsize=4)
def _read_toml(path: Path) -> dict:
    # Cached: keys are read on hot paths (hashing a million identifiers).
    with path.open("rb") as fh:
        return tomllib.load(fh)


def cookie_key() -> str:
    """Key that signs the login cookie. Outside demo mode the demo key is refused."""
    key = setting("cookie_key")
    if demo_mode() and not key:
        return _demo_keys()["cookie_key"]
    demo = demo_mode()
    return _checked_cookie_key(key or "", None if demo else _demo_value("cookie_key"))


@lru_cache(maxsize=8)
def _checked_cookie_key(key: str, demo_key: str | None) -> str:
    if not key:
        raise ConfigError(
            "Set C360_COOKIE_KEY (or cookie_key in .streamlit/secrets.toml) "
            "to a random string of at least 32 characters, or set C360_DEMO=1."
        )
    if key == demo_key:
        raise ConfigError(
            "Refusing to start outside demo mode with the demo cookie key: "
            f"set C360_COOKIE_KEY to a new one ({_GENERATE_SECRET})."
        )
    _strong_secret("C360_COOKIE_KEY", key)
    return key


def field_keys() -> list[bytes]:
    """Fernet keys for encrypted columns, newest first (older keys only decrypt, for rotation)."""
    raw = setting("field_keys")
    if not raw:
        if not demo_mode():
            raise ConfigError(
                "Set C360_FIELD_KEYS (comma-separated Fernet keys, newest first) "
                "or set C360_DEMO=1 for the demo warehouse."
            )
        return list(_checked_field_keys(_demo_keys()["field_keys"], None))
    return list(_checked_field_keys(raw, None if demo_mode() else _demo_value("field_keys")))


@lru_cache(maxsize=8)
def _checked_field_keys(raw: str, demo_raw: str | None) -> tuple[bytes, ...]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise ConfigError(
            f"C360_FIELD_KEYS holds no key: set it to comma-separated Fernet keys, newest first ({_GENERATE_FERNET})."
        )
    demo_keys = {k.strip() for k in (demo_raw or "").split(",") if k.strip()}
    for i, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                f"C360_FIELD_KEYS: key {i} of {len(keys)} is not a Fernet key "
                f"(32 url-safe base64-encoded bytes; {_GENERATE_FERNET})."
            ) from None
        if key in demo_keys:
            raise ConfigError(
                f"Refusing to run outside demo mode with the demo field key "
                f"(C360_FIELD_KEYS key {i} of {len(keys)}): generate your own."
            )
    return tuple(k.encode() for k in keys)


def hash_key() -> bytes:
    """Secret for keyed hashes of identifiers (exact lookups and de-duplication without
    decrypting). Unlike field keys it is never rotated: rotating it would orphan every hash."""
    key = setting("hash_key")
    if not key:
        if not demo_mode():
            raise ConfigError(
                "Set C360_HASH_KEY to a random string of at least 32 characters "
                "(or set C360_DEMO=1 for the demo warehouse)."
            )
        return _demo_keys()["hash_key"].encode()
    return _checked_hash_key(key, None if demo_mode() else _demo_value("hash_key"))


@lru_cache(maxsize=8)
def _checked_hash_key(key: str, demo_key: str | None) -> bytes:
    if key == demo_key:
        raise ConfigError(
            "Refusing to run outside demo mode with the demo hash key "
            "(C360_HASH_KEY): generate your own before loading any data."
        )
    _strong_secret("C360_HASH_KEY", key)
    return key.encode()
