"""Lake mode: a throwaway PostgreSQL for the session, a fresh lake per test.

Migrating a lake costs a few seconds of catalog round trips, so the session migrates one
template lake and every test gets a copy of its catalog (``CREATE DATABASE ... TEMPLATE``,
~0.1 s). The copies share the template's data path: data files have unique names and each
catalog lists only its own, so tests never see each other's rows.

If PostgreSQL cannot start, every lake test FAILS with the reason (never skipped).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.lake.pg import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def pg_server():
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        server.stop()
        pytest.fail(f"Lake tests need a local PostgreSQL and it could not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lake_data(pg_server):
    path = pg_server.root.parent / f"{pg_server.root.name}-lake-data"
    path.mkdir()
    previous = os.environ.get("C360_LAKE_DATA")
    os.environ["C360_LAKE_DATA"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("C360_LAKE_DATA", None)
    else:
        os.environ["C360_LAKE_DATA"] = previous
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def lake_template(pg_server, lake_data) -> str:
    """A migrated lake with the demo users; the catalog database other lakes are copied from."""
    from lib.security import auth
    from lib.core import warehouse

    name = pg_server.create_database("c360_template")
    warehouse.use(pg_server.spec(name))
    try:
        warehouse.migrate()
        auth.seed_demo_users()
    finally:
        warehouse.dispose()
        warehouse.use(None)
    return name


@pytest.fixture
def lake_spec(pg_server, lake_template):
    """A fresh, migrated lake (copy of the template) this process points at."""
    from lib.core import warehouse

    name = pg_server.create_database(template=lake_template)
    spec = pg_server.spec(name)
    warehouse.use(spec)
    os.environ["C360_WAREHOUSE"] = spec  # for AppTest scripts and subprocesses
    yield spec
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)
    pg_server.drop_database(name)


@pytest.fixture
def warehouse_path(lake_spec):
    """The foundation's fixture, served by a lake: tests imported from tests/unit run unchanged."""
    return lake_spec


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory):
    """A small demo warehouse file (built once per session)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    out = cli("--warehouse", str(path), "demo", "--customers", "2000", "--seed", "7", env={"C360_DEMO": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    return path


@pytest.fixture(scope="session")
def demo_lake(pg_server, lake_data, demo_file) -> str:
    """The demo warehouse moved into a lake with `lake migrate` (shared by read-mostly tests)."""
    name = pg_server.create_database("c360_demo")
    spec = pg_server.spec(name)
    out = cli("--warehouse", str(demo_file), "lake", "migrate", "--to", spec, "--data", str(lake_data))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "all tables match" in out.stdout
    return spec


@pytest.fixture
def on_demo_lake(demo_lake):
    from lib.core import warehouse

    warehouse.use(demo_lake)
    os.environ["C360_WAREHOUSE"] = demo_lake
    yield demo_lake
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)
