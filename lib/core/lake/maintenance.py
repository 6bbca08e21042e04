"""Lake maintenance: compaction, checkpoints, snapshot expiry, file cleanup, info, constraint checks."""

from __future__ import annotations

import time

import duckdb

from lib.core.errors import is_conflict
from lib.core.lake.engine import Lake, prime_empty_tables
from lib.core.lake.moves import apply_table_options
from lib.core.lake.spec import ALIAS, CONSTRAINTS_TABLE, _quote, parse_spec

# ---------------------------------------------------------------- maintenance


def _call(con, sql: str, attempts: int = 8) -> list[tuple]:
    """Run a maintenance call, retrying when a concurrent writer commits first."""
    for attempt in range(attempts):
        try:
            return con.execute(sql).fetchall()
        except duckdb.Error as exc:
            try:
                con.execute("ROLLBACK")  # the failed attempt leaves an aborted transaction
            except duckdb.Error:
                pass
            # A flush that lost a race with a writer fails as an aborted catalog transaction.
            retry = is_conflict(exc) or "Current transaction is aborted" in str(exc)
            if not retry or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    return []


def maintenance_connection(spec: str) -> tuple["Lake", duckdb.DuckDBPyConnection]:
    lake = Lake(parse_spec(spec))
    con = lake.db.cursor()
    con.execute("USE " + ALIAS)
    return lake, con


def compact(con, lake: "Lake | None" = None) -> dict:
    """Flush rows inlined in the catalog to Parquet, rewrite files with many deleted rows and
    merge small adjacent files (what many small commits leave behind); give tables that never
    held a row their statistics (see prime_empty_tables)."""
    primed = []
    for table in lake.tables_without_statistics() if lake else []:
        con.execute("BEGIN")
        try:
            primed += prime_empty_tables(con, [table])
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")  # a concurrent writer got there first: next run retries
    apply_table_options(con)
    flushed = _call(con, "SELECT count(*) FROM ducklake_flush_inlined_data('" + ALIAS + "')")[0][0]
    rewritten = _call(con, "SELECT count(*) FROM ducklake_rewrite_data_files('" + ALIAS + "')")[0][0]
    merged = _call(con, "SELECT count(*) FROM ducklake_merge_adjacent_files('" + ALIAS + "')")[0][0]
    return {
        "primed_tables": len(primed),
        "flushed_tables": int(flushed),
        "rewritten_files": int(rewritten),
        "merged_files": int(merged),
    }


def checkpoint(con) -> None:
    """DuckLake's all-in-one maintenance (flush, expire, merge, rewrite, clean up) by its options."""
    _call(con, "CHECKPOINT")


def expire(con, older_than_days: float, dry_run: bool = False) -> int:
    """Forget snapshots older than N days (time travel before then stops working)."""
    # count(*) in SQL: the rows carry timestamps with time zone, which Python would need pytz for
    rows = _call(
        con,
        "SELECT count(*) FROM ducklake_expire_snapshots('"
        + ALIAS
        + "', dry_run => "
        + ("true" if dry_run else "false")
        + ", older_than => now() - to_microseconds("
        + str(int(older_than_days * 86_400_000_000))
        + "))",
    )
    return int(rows[0][0])


def cleanup(con, older_than_days: float, dry_run: bool = False) -> int:
    """Delete data files no snapshot needs any more, once they are older than N days (a reader
    that started before the expiry may still be reading them)."""
    interval = "now() - to_microseconds(" + str(int(older_than_days * 86_400_000_000)) + ")"
    flag = "true" if dry_run else "false"
    old = _call(
        con,
        "SELECT count(*) FROM ducklake_cleanup_old_files('"
        + ALIAS
        + "', dry_run => "
        + flag
        + ", older_than => "
        + interval
        + ")",
    )
    orphaned = _call(
        con,
        "SELECT count(*) FROM ducklake_delete_orphaned_files('"
        + ALIAS
        + "', dry_run => "
        + flag
        + ", older_than => "
        + interval
        + ")",
    )
    return int(old[0][0]) + int(orphaned[0][0])


def info(con) -> dict:
    snapshots = con.execute(
        "SELECT count(*), CAST(min(snapshot_time) AS VARCHAR), "
        "CAST(max(snapshot_time) AS VARCHAR) FROM "
        "ducklake_snapshots('" + ALIAS + "')"
    ).fetchone()
    files = con.execute(
        "SELECT count(*), coalesce(sum(file_size_bytes), 0), "
        "coalesce(sum(delete_file_count), 0) FROM ducklake_table_info('" + ALIAS + "')"
    ).fetchone()
    data_path = con.execute("SELECT data_path FROM ducklake_settings('" + ALIAS + "')").fetchone()[0]
    return {
        "snapshots": int(snapshots[0]),
        "oldest_snapshot": snapshots[1],
        "newest_snapshot": snapshots[2],
        "tables": int(files[0]),
        "data_bytes": int(files[1]),
        "delete_files": int(files[2]),
        "data_path": data_path,
    }


def constraint_violations(con) -> list[dict]:
    """Rows that break a recorded PRIMARY KEY / UNIQUE / CHECK constraint (the lake cannot
    enforce them itself)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [ALIAS, CONSTRAINTS_TABLE]
    ).fetchone()[0]
    if not exists:
        return []
    out = []
    for table, kind, columns, expression in con.execute(
        "SELECT table_name, kind, columns, expression FROM " + CONSTRAINTS_TABLE + " ORDER BY table_name, kind"
    ).fetchall():
        target = _quote(ALIAS, "main", table)
        if kind in ("primary_key", "unique"):
            cols = ", ".join(_quote(c) for c in columns)
            nulls = " AND ".join(_quote(c) + " IS NOT NULL" for c in columns)
            sql = (
                "SELECT count(*) FROM (SELECT "
                + cols
                + " FROM "
                + target
                + " WHERE "
                + nulls
                + " GROUP BY ALL HAVING count(*) > 1)"
            )
        else:
            sql = "SELECT count(*) FROM " + target + " WHERE NOT coalesce((" + expression + "), true)"
        n = con.execute(sql).fetchone()[0]
        if n:
            out.append(
                {"table": table, "kind": kind, "columns": list(columns), "expression": expression, "violations": int(n)}
            )
    return out
