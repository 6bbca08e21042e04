"""Tests allow plain SQL text for their own setup and checks, but lib/ code must use named
queries: in the app plain text is refused. The Backups page broke on a schema_versions()
that ran plain text, which every test let through."""

import pytest

from lib.admin import backup  # noqa: F401 - a lib/ module on the call path below
from lib.core import warehouse
from lib.core.errors import WarehouseError


@pytest.fixture
def migrated(tmp_path):
    warehouse.use(str(tmp_path / "w.duckdb"))
    warehouse.migrate()
    yield
    warehouse.use(None)


def test_schema_versions_is_a_named_query_and_lists_every_migration(migrated):
    assert warehouse.schema_versions() == [int(f.name[:4]) for f in warehouse.migration_files()]


def test_plain_sql_from_a_lib_module_is_refused_even_when_tests_allow_it(migrated):
    code = compile(
        "from lib.core import warehouse\n"
        "def versions():\n"
        '    return warehouse.read("SELECT version FROM schema_version")\n',
        str(warehouse._LIB_DIR / "admin" / "pretend_module.py"),
        "exec",
    )
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(WarehouseError, match="No query named"):
        namespace["versions"]()


def test_plain_sql_from_a_test_still_runs(migrated):
    assert len(warehouse.read("SELECT version FROM schema_version")) == len(warehouse.migration_files())
