"""Settings from the environment, then `.streamlit/secrets.toml`, then demo defaults.

Environment variables win so that CI, cron jobs and containers can configure the app
without a secrets file. Secrets never live in the repository: in demo mode the keys are
generated once into `data/demo-keys.toml` (git-ignored); outside demo mode they must be set.
"""
from __future__ import annotations

import os
import secrets
import tomllib
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
    """Random keys for the demo warehouse, created on first use and kept beside it."""
    if not DEMO_KEYS_FILE.exists():
        DEMO_KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEMO_KEYS_FILE.write_text(
            f'cookie_key = "{secrets.token_urlsafe(32)}"\n'
            f'field_keys = "{Fernet.generate_key().decode()}"\n'
            f'hash_key = "{secrets.token_urlsafe(32)}"\n'
        )
        DEMO_KEYS_FILE.chmod(0o600)
    return _read_toml(DEMO_KEYS_FILE)


@lru_cache(maxsize=4)
def _read_toml(path: Path) -> dict:
    # Cached: keys are read on hot paths (hashing a million identifiers).
    with path.open("rb") as fh:
        return tomllib.load(fh)


def cookie_key() -> str:
    """Key that signs the login cookie. Outside demo mode the demo key is refused."""
    key = setting("cookie_key")
    if demo_mode():
        return key or _demo_keys()["cookie_key"]
    if not key:
        raise ConfigError("Set C360_COOKIE_KEY (or cookie_key in .streamlit/secrets.toml) "
                          "to a random string of at least 32 characters, or set C360_DEMO=1.")
    if len(key) < 32:
        raise ConfigError("The cookie key must be at least 32 characters long.")
    if DEMO_KEYS_FILE.exists() and key == _demo_keys()["cookie_key"]:
        raise ConfigError("Refusing to start outside demo mode with the demo cookie key: "
                          "generate a new one (python -c 'import secrets; print(secrets.token_urlsafe(32))').")
    return key


def field_keys() -> list[bytes]:
    """Fernet keys for encrypted columns, newest first (older keys only decrypt, for rotation)."""
    raw = setting("field_keys")
    if not raw:
        if not demo_mode():
            raise ConfigError("Set C360_FIELD_KEYS (comma-separated Fernet keys, newest first) "
                              "or set C360_DEMO=1 for the demo warehouse.")
        raw = _demo_keys()["field_keys"]
    return [k.strip().encode() for k in raw.split(",") if k.strip()]


def hash_key() -> bytes:
    """Secret for keyed hashes of identifiers (exact lookups and de-duplication without
    decrypting). Unlike field keys it is never rotated: rotating it would orphan every hash."""
    key = setting("hash_key")
    if not key:
        if not demo_mode():
            raise ConfigError("Set C360_HASH_KEY to a random string of at least 32 characters.")
        key = _demo_keys()["hash_key"]
    return key.encode()
