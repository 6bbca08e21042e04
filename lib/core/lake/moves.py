"""Moving a warehouse from a DuckDB file into a lake and back, verified by checksums."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lib.core.lake.engine import Lake, prime_empty_tables
from lib.core.lake.spec import ALIAS, CONSTRAINTS_TABLE, LakeError, _quote, _sql_string, parse_spec

# ---------------------------------------------------------------- moving a warehouse in and out

SOURCE_DB = "c360_source"
# Row count and an order-independent checksum of every row (the restore drill's method:
# sensitive to any changed value and to duplicated rows). Table names come from DuckDB's own
# catalog and are quoted; nothing here comes from a user.
_CHECKSUM_SQL = "SELECT count(*), CAST(coalesce(sum(hash(t)::HUGEINT), 0) AS VARCHAR) FROM {table} AS t"


@dataclass
class TableCheck:
    table: str
    rows_source: int
    rows_target: int
    checksum_source: str
    checksum_target: str

    @property
    def ok(self) -> bool:
        return (self.rows_source, self.checksum_source) == (self.rows_target, self.checksum_target)


@dataclass
class MoveResult:
    direction: str  # "file->lake" or "lake->file"
    tables: list[TableCheck]
    sequences: dict[str, int]
    views: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows_target for t in self.tables)


def _checksum(con: duckdb.DuckDBPyConnection, database: str, table: str) -> tuple[int, str]:
    n, checksum = con.execute(_CHECKSUM_SQL.replace("{table}", _quote(database, "main", table))).fetchone()
    return int(n), str(checksum)


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT schema_name, table_name, sql FROM duckdb_tables() "
        "WHERE database_name = ? AND NOT temporary ORDER BY table_name",
        [database],
    ).fetchall()


def _app_tables(con, database: str) -> list[tuple[str, str]]:
    rows = _tables(con, database)
    other = sorted({s for s, _, _ in rows if s != "main"})
    if other:
        raise LakeError(f"Only the main schema is moved; {database} also has schemas {other}")
    return [(t, sql) for _, t, sql in rows if t != CONSTRAINTS_TABLE]


def _views(con, database: str) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? "
        "AND NOT internal AND NOT temporary ORDER BY view_name",
        [database],
    ).fetchall()


def _attach_file(con, path: Path, alias: str, read_only: bool) -> None:
    sql = "ATTACH " + _sql_string(str(path)) + " AS " + alias + (" (READ_ONLY)" if read_only else "")
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise LakeError(
                f"{path} is open in another process (usually the running app): stop "
                "it first; a warehouse is moved while nobody writes to it."
            ) from exc
        raise


# Row order of the tables a 360° page looks one record up in, kept by DuckLake itself
# (ALTER TABLE ... SET SORTED BY: files are written sorted on insert, compaction and inlined
# data flushes). Parquet is pruned by each file's and row group's min/max, so a lookup reads a
# few row groups instead of every one. The audit log grows in time order, so without a sort
# order every file spans every entity_id and a record's history is a scan of the whole log (the
# file warehouse has an index for it instead, migration 0009). The Overview does not suffer:
# it reads the pre-aggregated tables.
SORTED_BY = {
    "events": ("customer_id", "event_time"),
    "orders": ("customer_id", "order_time"),
    "consents": ("customer_id", "recorded_at"),
    "tags": ("customer_id", "tag"),
    "quality_flags": ("customer_id", "flag_id"),
    "audit_log": ("entity_id", "occurred_at"),
}


# Rows per Parquet row group, per table (DuckLake's default is 122,880). A customer is
# looked up by id on every 360° page: with 16,384-row groups a lookup decodes 1/8 of the data
# (measured on 1M customers: 180 ms -> 55 ms). Smaller groups were slower again (more
# metadata per file); the big fact tables keep the default (their lookups prune by order).
ROW_GROUP_ROWS = {"customers": 16_384}


def apply_table_options(con) -> list[str]:
    """Set the per-table Parquet options and sort orders above on the lake's tables that exist
    (idempotent; not in the transaction that created the tables)."""
    existing = {
        t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [ALIAS]).fetchall()
    }
    done = []
    for table, rows in ROW_GROUP_ROWS.items():
        if table in existing:
            con.execute(
                "CALL ducklake_set_option('"
                + ALIAS
                + "', 'parquet_row_group_size', "
                + str(int(rows))
                + ", table_name => "
                + _sql_string(table)
                + ")"
            )
            done.append(table)
    for table, columns in SORTED_BY.items():  # names from the dict above, never from input
        if table in existing:
            con.execute(
                "ALTER TABLE "
                + _quote(ALIAS, "main", table)
                + " SET SORTED BY ("
                + ", ".join(_quote(c) + " ASC" for c in columns)
                + ")"
            )
            done.append(table)
    return done


def migrate_file_to_lake(
    path: Path, spec: str, data_path: str | None = None, progress=print, cluster: bool = True
) -> MoveResult:
    """Copy every table, view and sequence position of a DuckDB file into an empty lake,
    then compare row counts and checksums table by table."""
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise LakeError(f"{path} does not exist")
    lake = Lake(parse_spec(spec, data_path))
    try:
        con = lake.raw_connection()  # with nextval(): column DEFAULTs refer to sequences
        existing = [t for t, _ in _app_tables(con, ALIAS)]
        if existing:
            raise LakeError(
                f"The lake already has {len(existing)} table(s) ({', '.join(existing[:5])}"
                f"{' ...' if len(existing) > 5 else ''}): migrate into an empty lake "
                "(a new PostgreSQL database and data path)."
            )
        _attach_file(con, path, SOURCE_DB, read_only=True)
        sequences = {}
        for name, start, last in con.execute(
            "SELECT sequence_name, start_value, last_value FROM duckdb_sequences() "
            "WHERE database_name = ? AND schema_name = 'main'",
            [SOURCE_DB],
        ).fetchall():
            sequences[name] = int(last) + 1 if last is not None else int(start)
        tables = _app_tables(con, SOURCE_DB)
        views = _views(con, SOURCE_DB)
        for name, position in sequences.items():
            lake.sequences.create(name, position, replace=True)
        # Two transactions: table options cannot be set on tables created in the same
        # transaction. If copying fails, the empty tables are dropped again.
        con.execute("BEGIN")
        try:
            for table, ddl in tables:
                plan = lake.translator.plan(ddl)
                if plan.sql:
                    con.execute(plan.sql)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        try:
            apply_table_options(con)
            con.execute("BEGIN")
            for table, _ in tables:
                order = ""
                if cluster and table in SORTED_BY:
                    order = " ORDER BY " + ", ".join(_quote(c) for c in SORTED_BY[table])
                con.execute(
                    "INSERT INTO "
                    + _quote(ALIAS, "main", table)
                    + " SELECT * FROM "
                    + _quote(SOURCE_DB, "main", table)
                    + order
                )
                progress(f"copied {table}")
            for _, ddl in views:
                con.execute(ddl)
            prime_empty_tables(con, [t for t, _ in tables])
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            con.execute("BEGIN")
            for table, _ in tables + [(CONSTRAINTS_TABLE, "")]:
                con.execute("DROP TABLE IF EXISTS " + _quote(ALIAS, "main", table))
            con.execute("COMMIT")
            raise
        checks = []
        for table, _ in tables:
            rs, cs = _checksum(con, SOURCE_DB, table)
            rt, ct = _checksum(con, ALIAS, table)
            checks.append(TableCheck(table, rs, rt, cs, ct))
        con.execute("DETACH " + SOURCE_DB)
        return MoveResult("file->lake", checks, sequences, [v for v, _ in views], time.perf_counter() - started)
    finally:
        lake.close()


def _with_constraints(ddl: str, constraints: list[tuple[str, list[str], str | None]]) -> str:
    """Put the recorded PRIMARY KEY / UNIQUE / CHECK constraints back into a table's DDL."""
    if not constraints:
        return ddl
    clauses = []
    for kind, columns, expression in constraints:
        cols = ", ".join(_quote(c) for c in columns)
        if kind == "primary_key":
            clauses.append("PRIMARY KEY (" + cols + ")")
        elif kind == "unique":
            clauses.append("UNIQUE (" + cols + ")")
        elif kind == "check" and expression:
            clauses.append("CHECK (" + expression + ")")
    body = ddl.rstrip().rstrip(";").rstrip()
    if not body.endswith(")"):
        raise LakeError(f"Unexpected table DDL: {ddl[:80]}")
    return body[:-1] + ", " + ", ".join(clauses) + ");"


def migrate_lake_to_file(spec: str, path: Path, progress=print) -> MoveResult:
    """Copy a lake into a new DuckDB file with its constraints and sequence positions restored,
    then compare row counts and checksums table by table."""
    started = time.perf_counter()
    path = Path(path)
    if path.exists():
        raise LakeError(f"{path} already exists: choose a new file (nothing is overwritten).")
    path.parent.mkdir(parents=True, exist_ok=True)
    lake = Lake(parse_spec(spec))
    try:
        sequences = lake.sequences.positions()
        con = lake.db.cursor()
        has_registry = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [ALIAS, CONSTRAINTS_TABLE],
        ).fetchone()[0]
        registry: dict[str, list] = {}
        if has_registry:
            for table, kind, columns, expression in con.execute(
                "SELECT table_name, kind, columns, expression FROM "
                + ALIAS
                + ".main."
                + CONSTRAINTS_TABLE
                + " ORDER BY kind <> 'primary_key'"
            ).fetchall():
                registry.setdefault(table, []).append((kind, list(columns), expression))
        tables = _app_tables(con, ALIAS)
        views = _views(con, ALIAS)
        _attach_file(con, path, "c360_target", read_only=False)
        con.execute("USE c360_target")
        try:
            con.execute("BEGIN")
            for name, position in sequences.items():
                con.execute("CREATE SEQUENCE " + _quote(name) + " START " + str(int(position)))
            for table, ddl in tables:
                con.execute(_with_constraints(ddl, registry.get(table, [])))
                con.execute(
                    "INSERT INTO "
                    + _quote("c360_target", "main", table)
                    + " SELECT * FROM "
                    + _quote(ALIAS, "main", table)
                )
                progress(f"copied {table}")
            for _, ddl in views:
                con.execute(ddl)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            con.execute("USE " + ALIAS)
            con.execute("DETACH c360_target")
            path.unlink(missing_ok=True)
            raise
        checks = []
        for table, _ in tables:
            rs, cs = _checksum(con, ALIAS, table)
            rt, ct = _checksum(con, "c360_target", table)
            checks.append(TableCheck(table, rs, rt, cs, ct))
        con.execute("USE " + ALIAS)
        con.execute("CHECKPOINT c360_target")
        con.execute("DETACH c360_target")
        return MoveResult("lake->file", checks, sequences, [v for v, _ in views], time.perf_counter() - started)
    finally:
        lake.close()
