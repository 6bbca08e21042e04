"""`lake migrate` both ways with checksums, and maintenance commands that are safe to schedule."""

from __future__ import annotations

import duckdb

from lib.admin import backup
from lib.core import lake, warehouse
from tests.lake.conftest import cli
from tests.lake.test_lake_concurrency import _customers, _result, _start


def test_a_warehouse_moved_into_a_lake_and_back_keeps_every_row(demo_lake, demo_file, tmp_path):
    back = tmp_path / "back.duckdb"
    out = cli("lake", "migrate", "--from", demo_lake, "--to", str(back))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "all tables match" in out.stdout

    original = backup.file_checksums(demo_file)
    returned = backup.file_checksums(back)
    assert set(returned) == set(original)
    # The customer data came back identical. (Other tables may differ legitimately: the
    # session's app tests log in and build RFM snapshots on this lake; the command itself
    # compared every table of the lake with the new file.)
    data = ("customers", "orders", "events", "consents", "demo_ground_truth", "schema_version")
    assert {t: returned[t] for t in data} == {t: original[t] for t in data}
    assert original["customers"]["rows"] == 2000
    with duckdb.connect(str(back), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'lake.migrate'").fetchone()[0] >= 1
        ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'customers'").fetchone()[0]
        assert "PRIMARY KEY(customer_id)" in ddl and 'UNIQUE("source", source_record_id)' in ddl
        assert "CHECK((gender IN ('M', 'F', 'U')))" in ddl
    with duckdb.connect(str(back)) as con:  # sequences resume after the highest id
        top = con.execute("SELECT max(customer_id) FROM customers").fetchone()[0]
        assert con.execute("SELECT nextval('customer_id_seq')").fetchone()[0] > top
        try:
            con.execute(
                "INSERT INTO customers (customer_id, source, source_record_id, channel, "
                "registered_at, updated_at) VALUES (1, 'x', 'y', 'web', now(), now())"
            )
            raise AssertionError("the primary key was not restored")
        except duckdb.ConstraintException:
            pass


def test_migrating_into_a_lake_that_has_tables_is_refused(demo_lake, demo_file):
    out = cli("--warehouse", str(demo_file), "lake", "migrate", "--to", demo_lake)
    assert out.returncode == 2
    assert "already has" in out.stderr and "empty lake" in out.stderr


def test_migrating_out_never_overwrites_a_file(demo_lake, demo_file):
    out = cli("lake", "migrate", "--from", demo_lake, "--to", str(demo_file))
    assert out.returncode == 2 and "already exists" in out.stderr


def test_a_checksum_mismatch_is_reported_not_hidden():
    check = lake.TableCheck("customers", 10, 10, "123", "124")
    result = lake.MoveResult("file->lake", [check], {}, [], 1.0)
    assert not check.ok and not result.ok


def test_maintenance_runs_while_a_steward_edits_and_changes_no_data(lake_spec):
    _customers(30)
    before = warehouse.read("SELECT customer_id, version FROM customers ORDER BY 1")
    editor = _start("editor", lake_spec, "1", "30", "1")
    results = {
        cmd: cli("--warehouse", lake_spec, "lake", *cmd.split())
        for cmd in ("compact", "checkpoint", "expire --older-than 0", "cleanup --older-than 0", "check", "info")
    }
    edits = _result(editor)
    for cmd, out in results.items():
        assert out.returncode == 0, (cmd, out.stdout[-1000:], out.stderr[-2000:])
    assert edits["errors"] == [] and len(edits["done"]) == 30
    after = warehouse.read("SELECT customer_id, version FROM customers ORDER BY 1")
    assert after["customer_id"].tolist() == before["customer_id"].tolist()
    assert after["version"].tolist() == [v + 1 for v in before["version"].tolist()]
    assert "expired" in results["expire --older-than 0"].stdout
    assert "constraints hold" in results["check"].stdout


SORT_ORDERS = """
    SELECT t.table_name, list(e.expression ORDER BY e.sort_key_index) AS columns
    FROM __ducklake_metadata_lake.ducklake_sort_info s
    JOIN __ducklake_metadata_lake.ducklake_sort_expression e USING (sort_id, table_id)
    JOIN __ducklake_metadata_lake.ducklake_table t USING (table_id)
    WHERE s.end_snapshot IS NULL AND t.end_snapshot IS NULL
    GROUP BY t.table_name"""


def test_lookup_tables_keep_a_sort_order_after_migrate_and_compact(lake_spec, on_demo_lake):
    """A record's rows stay together in the Parquet files (min/max pruning): one customer's
    orders, events, consents, tags and flags, and one record's history in the audit log."""
    from lib.core import warehouse as wh

    wanted = {table: list(columns) for table, columns in lake.SORTED_BY.items()}
    # a migrated lake (the demo, moved by `lake migrate`) ...
    assert {r["table_name"]: list(r["columns"]) for r in wh.records(SORT_ORDERS)} == wanted
    # ... and a lake built by migrations, once `lake compact` has run (twice: it is scheduled)
    wh.use(lake_spec)
    for _ in range(2):
        out = cli("--warehouse", lake_spec, "lake", "compact")
        assert out.returncode == 0, out.stdout[-1000:] + out.stderr[-2000:]
    assert {r["table_name"]: list(r["columns"]) for r in wh.records(SORT_ORDERS)} == wanted
