"""Shared fixtures: keys for tests, an empty migrated warehouse per test, demo users."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Fixed test keys (never used outside tests); set before any lib module reads them.
os.environ.setdefault("C360_DEMO", "1")
os.environ.setdefault("C360_COOKIE_KEY", "test-cookie-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("C360_FIELD_KEYS", "T8R4XUbzGv3rJ2a0G2f6vWc0m9V0G2wq1pQW0m3X6yI=")
os.environ.setdefault("C360_HASH_KEY", "test-hash-key-0123456789-abcdefghijklmnopqrs")

from lib.core import warehouse as _warehouse  # noqa: E402 - after the keys

_warehouse.allow_inline_sql()  # tests set up and check tables with plain SQL


@pytest.fixture(scope="session")
def template_warehouse(tmp_path_factory) -> Path:
    """Migrated, with the demo users: built once per session (bcrypt and DDL are slow),
    then copied for every test that needs a warehouse."""
    from lib.security import auth
    from lib.core import warehouse

    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    warehouse.use(str(path))
    warehouse.migrate()
    auth.seed_demo_users()
    warehouse.checkpoint()
    warehouse.dispose()
    warehouse.use(None)
    return path


@pytest.fixture
def warehouse_path(tmp_path, template_warehouse) -> Path:
    """An empty, migrated warehouse file with the demo users; the process points at it."""
    from lib.core import warehouse

    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(template_warehouse, path)
    warehouse.use(str(path))
    os.environ["C360_WAREHOUSE"] = str(path)  # for AppTest scripts and subprocesses
    yield path
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)


@pytest.fixture
def users():
    """One auth.User per demo login, by username."""
    from lib.security import auth

    return {name: auth.User(name, spec["name"], frozenset(spec["roles"])) for name, spec in auth.DEMO_USERS.items()}
