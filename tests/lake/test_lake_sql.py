"""What DuckLake lacks, provided by lib/core/lake/: the schema, sequences, ON CONFLICT, RETURNING,
recorded constraints, and extensions loaded from the wheels only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lib.core import lake, warehouse
from lib.admin import setting_changes
from tests.lake.conftest import cli

COLUMNS_SQL = (
    "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
    "WHERE database_name = current_database() AND schema_name = 'main' "
    "AND table_name <> 'c360_lake_constraints' ORDER BY table_name, column_index"
)


def test_every_migration_gives_the_lake_the_same_columns_as_a_file(lake_spec, tmp_path):
    on_lake = warehouse.read(COLUMNS_SQL)
    warehouse.use(str(tmp_path / "file.duckdb"))
    try:
        warehouse.migrate()
        on_file = warehouse.read(COLUMNS_SQL)
    finally:
        warehouse.dispose()
        warehouse.use(lake_spec)
    assert len(on_lake) > 100
    assert on_lake.to_dict("records") == on_file.to_dict("records")
    assert warehouse.schema_versions() == [int(f.name[:4]) for f in warehouse.migration_files()]


def test_constraints_the_lake_cannot_enforce_are_recorded(lake_spec):
    with warehouse.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT kind, columns, expression FROM c360_lake_constraints "
            "WHERE table_name = 'customers' ORDER BY kind, expression"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        ("check", ["customer_type"], "customer_type IN ('B2B', 'B2C')"),
        ("check", ["gender"], "gender IN ('M', 'F', 'U')"),
        ("check", ["lifecycle_stage"], "lifecycle_stage IN ('prospect', 'intent', 'customer', 'repeat', 'churned')"),
        ("primary_key", ["customer_id"], None),
        ("unique", ["source", "source_record_id"], None),
    ]


def test_lake_check_reports_rows_that_break_a_recorded_constraint(lake_spec):
    assert cli("--warehouse", lake_spec, "lake", "check").returncode == 0
    with warehouse.transaction() as tx:
        for _ in range(2):  # the same natural key twice, and a gender outside the CHECK list
            tx.run(
                "INSERT INTO customers (customer_id, source, source_record_id, gender, channel,"
                " registered_at, updated_at) VALUES (7, 'crm', 'X1', 'Q', 'web', now(), now())"
            )
    out = cli("--warehouse", lake_spec, "lake", "check")
    assert out.returncode == 1
    assert "customers: 1 violation(s) of primary_key (customer_id)" in out.stdout
    assert "customers: 1 violation(s) of unique (source, source_record_id)" in out.stdout
    assert "customers: 2 violation(s) of check (gender IN ('M', 'F', 'U'))" in out.stdout


def test_nextval_and_column_defaults_hand_out_ids_from_postgresql_sequences(lake_spec):
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO consents (customer_id, channel, status, source, recorded_at) "
            "SELECT range, 'sms', 'granted', 'test', now() FROM range(3000)"
        )
        first = tx.scalar("SELECT nextval('customer_id_seq')")
        second = tx.scalar("SELECT nextval('customer_id_seq')")
    ids = warehouse.one(
        "SELECT count(DISTINCT consent_id) AS d, min(consent_id) AS lo, max(consent_id) AS hi FROM consents"
    )
    assert ids == {"d": 3000, "lo": 1, "hi": 3000}
    assert (first, second) == (1, 2)
    # Another process continues after this one's block: ids never repeat across processes.
    out = cli("--warehouse", lake_spec, "lake", "info")
    assert out.returncode == 0, out.stderr
    warehouse.dispose()
    other = lake.Lake(lake.parse_spec(lake_spec))
    try:
        con = other.raw_connection()
        assert con.execute("SELECT nextval('customer_id_seq')").fetchone()[0] > 2
    finally:
        other.close()


def test_unknown_sequence_is_a_clear_error(lake_spec):
    with pytest.raises(Exception, match="Sequence with name nope_seq does not exist"):
        warehouse.scalar("SELECT nextval('nope_seq')")


def test_on_conflict_do_update_becomes_a_merge(lake_spec):
    from lib.core import settings

    setting_changes.put_system("churn_window_days", 200)
    setting_changes.put_system("churn_window_days", 300)
    assert settings.get("churn_window_days") == 300
    assert warehouse.scalar("SELECT count(*) FROM app_settings WHERE key = 'churn_window_days'") == 1


def test_on_conflict_do_nothing_uses_the_recorded_primary_key(lake_spec):
    for _ in range(3):
        with warehouse.transaction() as tx:
            tx.run(
                "INSERT INTO tags (customer_id, tag, created_by) VALUES (:c, :t, 'x') ON CONFLICT DO NOTHING",
                c=1,
                t="vip",
            )
            tx.run(
                "INSERT INTO tags (customer_id, tag, created_by) SELECT range, 'new', 'x' "
                "FROM range(1, 4) ON CONFLICT (customer_id, tag) DO NOTHING"
            )
    assert warehouse.read("SELECT customer_id, tag FROM tags ORDER BY tag, customer_id").values.tolist() == [
        [1, "new"],
        [2, "new"],
        [3, "new"],
        [1, "vip"],
    ]


def test_insert_returning_gives_back_the_defaults_it_filled_in(lake_spec):
    with warehouse.transaction() as tx:
        a = tx.scalar(
            "stw_import_start",
            kind="events",
            source="s",
            file_name="a.csv",
            file_sha256="x",
            username="u",
            rows_total=3,
        )
        b = tx.scalar(
            "stw_import_start",
            kind="events",
            source="s",
            file_name="b.csv",
            file_sha256="y",
            username="u",
            rows_total=4,
        )
    assert (a, b) == (1, 2)
    rows = warehouse.read("SELECT import_id, file_name, status, rows_loaded FROM imports ORDER BY 1")
    assert rows.values.tolist() == [[1, "a.csv", "running", 0], [2, "b.csv", "running", 0]]


def test_extensions_load_from_the_wheels_in_the_venv_and_never_download(lake_spec):
    with warehouse.connect() as conn:
        loaded = dict(
            conn.exec_driver_sql("SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded").fetchall()
        )
        settings = dict(
            conn.exec_driver_sql(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions', 'extension_directory')"
            ).fetchall()
        )
    venv = Path(sys.prefix)
    for name in ("ducklake", "postgres_scanner"):
        assert Path(loaded[name]).is_relative_to(venv / "duckdb_extensions"), loaded[name]
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["extension_directory"] == str(venv / "duckdb_extensions")


def test_a_spec_with_a_password_or_another_catalog_is_refused():
    with pytest.raises(lake.LakeError, match="PGPASSWORD"):
        lake.parse_spec("ducklake:postgres:dbname=x password=secret")
    with pytest.raises(lake.LakeError, match="ducklake:postgres:"):
        lake.parse_spec("ducklake:/tmp/catalog.ducklake")


def test_an_unreachable_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(lake.LakeError, match="is PostgreSQL reachable"):
        lake.create_engine("ducklake:postgres:dbname=x host=127.0.0.1 port=1 user=nobody", str(tmp_path))
