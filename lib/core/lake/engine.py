"""The attached lake per process and its SQLAlchemy engine (the warehouse calls create_engine)."""

from __future__ import annotations

import re

import duckdb
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lib.core.lake.sequences import Sequences
from lib.core.lake.spec import ALIAS, CONSTRAINTS_TABLE, LakeError, LakeSpec, _database, _quote, _sql_string, parse_spec
from lib.core.lake.translate import Translator

# ---------------------------------------------------------------- empty tables

_CREATES_TABLE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))*)",
    re.I,
)
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def _placeholder_value(data_type: str, nullable: bool) -> str | None:
    """A literal any column of this type accepts (None: no safe choice)."""
    if nullable:
        return "NULL"
    t = data_type.upper()
    if t.endswith("[]"):
        return "[]"
    if t.startswith(_NUMERIC):
        return "0"
    if t in ("VARCHAR", "JSON", "BLOB"):
        return "'null'" if t == "JSON" else "''"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "'1970-01-01'"
    if t == "BOOLEAN":
        return "false"
    return None


def prime_empty_tables(con, tables: list[str]) -> list[str]:
    """Give empty lake tables statistics by inserting and deleting one row in the caller's
    transaction (net zero rows, invisible to every reader).

    Why: DuckLake caches a table's statistics, except for a table that never held a row; such
    a table costs two catalog round trips *per column* on every query that touches it (seen:
    ~90-180 ms instead of ~5 ms per query). Many of our tables start empty (tags, segments,
    quality flags, models ...) and pages read them all the time.
    """
    primed = []
    for table in tables:
        cols = con.execute(
            "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = 'main' AND table_name = ? "
            "ORDER BY column_index",
            [ALIAS, table],
        ).fetchall()
        if not cols:
            continue
        values = [_placeholder_value(dtype, nullable) for _, dtype, nullable in cols]
        if any(v is None for v in values):
            continue
        target = _quote(ALIAS, "main", table)
        if con.execute("SELECT count(*) FROM " + target).fetchone()[0]:
            continue
        con.execute("INSERT INTO " + target + " VALUES (" + ", ".join(values) + ")")
        con.execute("DELETE FROM " + target)
        primed.append(table)
    return primed


# ---------------------------------------------------------------- the lake


class Lake:
    """One attached lake per process: a DuckDB instance whose pooled connections are cursors."""

    def __init__(self, spec: LakeSpec):
        self.spec = spec
        self.db = _database()
        self._attach()
        self.sequences = Sequences(spec.conninfo, self.db)
        self.translator = Translator(self)
        # Registered once: Python functions live in the instance's catalog, shared by its cursors.
        self.db.create_function(
            "c360_nextval", self.sequences.arrow_nextval, ["VARCHAR"], "BIGINT", type="arrow", side_effects=True
        )
        self._columns_cache: dict[str, list[tuple[str, str, str | None]]] = {}

    def _attach(self) -> None:
        options = []
        if self.spec.data_path:
            options.append("DATA_PATH " + _sql_string(self.spec.data_path))
        sql = "ATTACH " + _sql_string(self.spec.spec) + " AS " + ALIAS
        if options:
            sql += " (" + ", ".join(options) + ")"
        try:
            self.db.execute(sql)
        except duckdb.Error as exc:
            text = str(exc)
            if "does not match existing data path" in text:
                stored = text.split("catalog")[-1].splitlines()[0].strip(' ."')
                raise LakeError(
                    f"C360_LAKE_DATA ({self.spec.data_path}) is not where this lake "
                    f"keeps its files ({stored}): unset it (the catalog knows the "
                    "path) or correct it."
                ) from exc
            if "DATA_PATH" in text or "data path" in text.lower():
                raise LakeError(
                    f"The lake {self.spec.spec} does not exist yet and no data path "
                    "is configured: set C360_LAKE_DATA to the shared directory "
                    "(or object-store prefix) for its Parquet files."
                ) from exc
            raise LakeError(
                f"Could not attach the lake {self.spec.spec}: {text.splitlines()[0]}"
                " — is PostgreSQL reachable, does the database exist, and is the "
                "password in PGPASSWORD or ~/.pgpass?"
            ) from exc

    def raw_connection(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the lake as its default database and nextval() wired up."""
        cur = self.db.cursor()
        cur.execute("USE " + ALIAS)
        cur.execute("CREATE OR REPLACE TEMP MACRO nextval(sequence_name) AS c360_nextval(sequence_name)")
        return cur

    # -- catalog lookups for the translator

    def columns(self, table: str) -> list[tuple[str, str, str | None]]:
        """(name, type, default SQL) of a lake table, in order; [] if no such lake table."""
        cached = self._columns_cache.get(table)
        if cached:
            return cached
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT column_name, data_type, column_default FROM duckdb_columns() "
                "WHERE database_name = ? AND schema_name = 'main' AND table_name = ? "
                "ORDER BY column_index",
                [ALIAS, table],
            ).fetchall()
        cols = [(r[0], r[1], r[2]) for r in rows]
        if cols:
            self._columns_cache[table] = cols
        return cols

    def unique_keys(self, table: str, primary_only: bool = False) -> list[list[str]]:
        with self.db.cursor() as cur:
            exists = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                [ALIAS, CONSTRAINTS_TABLE],
            ).fetchone()[0]
            if not exists:
                return []
            rows = cur.execute(
                "SELECT kind, columns FROM "
                + ALIAS
                + ".main."
                + CONSTRAINTS_TABLE
                + " WHERE table_name = ? AND kind IN ('primary_key', 'unique') "
                "ORDER BY kind = 'unique'",
                [table],
            ).fetchall()
        return [list(cols) for kind, cols in rows if not primary_only or kind == "primary_key"]

    def tables_without_statistics(self) -> list[str]:
        """Lake tables that never held a row (see prime_empty_tables)."""
        rows = self.sequences.catalog_query(
            "SELECT t.table_name FROM ducklake_table t LEFT JOIN ducklake_table_stats s "
            "USING (table_id) WHERE t.end_snapshot IS NULL AND s.table_id IS NULL ORDER BY 1"
        )
        return [r[0] for r in rows]

    def forget_schema(self) -> None:
        self._columns_cache.clear()
        self.translator.plan.cache_clear()

    # -- the SQLAlchemy hook

    def before_execute(self, conn, cursor, statement, parameters, context, executemany):
        if _CREATES_TABLE.search(statement):
            conn.info.setdefault("c360_created", set()).update(
                m.group(1).strip('"').split(".")[-1].strip('"') for m in _CREATES_TABLE.finditer(statement)
            )
        plan = self.translator.plan(statement)
        if plan.sql == statement and not plan.sequence_ops and plan.returning is None:
            return statement, parameters
        for op in plan.sequence_ops:
            if op.action == "create":
                self.sequences.create(op.name, op.start, if_not_exists=op.if_not_exists, replace=op.replace)
            else:
                self.sequences.drop(op.name, if_exists=op.if_exists)
        if plan.returning is not None:
            if executemany:
                raise LakeError("INSERT ... RETURNING with many parameter sets is not supported on a lake")
            cursor.execute(plan.returning.compute_sql, parameters)
            cursor.execute(plan.returning.insert_sql)
            return plan.returning.result_sql, ()
        if plan.sql is None:
            return "SELECT 1 WHERE false", ()
        if plan.sql != statement and re.search(r"\b(CREATE|ALTER|DROP)\b", plan.sql, re.I):
            self.forget_schema()
        return plan.sql, parameters

    def on_commit(self, conn) -> None:
        created = conn.info.pop("c360_created", None)
        if created:
            prime_empty_tables(conn.connection.driver_connection, sorted(created))

    def on_rollback(self, conn) -> None:
        conn.info.pop("c360_created", None)

    def close(self) -> None:
        self.sequences.close()
        self.db.close()


_lakes: dict[int, Lake] = {}


def create_engine(spec: str, data_path: str | None = None) -> Engine:
    """A SQLAlchemy engine over the lake: pooled connections are cursors of one DuckDB instance
    (the lake is attached once per process), each with ``USE lake`` so unqualified table names
    resolve in the lake, and with statements translated where DuckLake needs it."""
    from duckdb_engine import ConnectionWrapper

    lake = Lake(parse_spec(spec, data_path))
    eng = sa.create_engine(
        "duckdb://",
        creator=lambda: ConnectionWrapper(lake.raw_connection()),
        poolclass=sa.pool.QueuePool,
        pool_pre_ping=False,
    )
    event.listen(eng, "before_cursor_execute", lake.before_execute, retval=True)
    event.listen(eng, "commit", lake.on_commit)
    event.listen(eng, "rollback", lake.on_rollback)
    _lakes[id(eng)] = lake
    event.listen(eng, "engine_disposed", lambda e: _forget(e))
    with eng.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    return eng


def _forget(eng: Engine) -> None:
    lake = _lakes.pop(id(eng), None)
    if lake is not None:
        lake.close()
