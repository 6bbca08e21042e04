"""DuckLake deployment: the same warehouse with its catalog in PostgreSQL and data as Parquet.

A DuckDB file has one writer process. A DuckLake keeps its catalog (tables, snapshots, file
lists) in PostgreSQL and its rows in Parquet files under a data path, so several app replicas
and import jobs attach it at once. ``lib/core/warehouse.py`` calls ``create_engine(spec)`` when
``C360_WAREHOUSE`` starts with ``ducklake:``; every page, query and job runs unchanged.

Configuration
-------------
* ``C360_WAREHOUSE=ducklake:postgres:dbname=c360 host=db.internal port=5432 user=c360``
  (a libpq connection string after ``ducklake:postgres:``). The password comes from
  ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads both), never from the spec, which is logged.
* ``C360_LAKE_DATA=/srv/c360-lake/`` (or ``lake_data`` in secrets.toml): where the Parquet
  files go. Needed when the lake is created; DuckLake records it in the catalog, so later
  processes may leave it unset (when set, it must name the same place).

Extensions come from the PyPI wheels ``duckdb-extension-ducklake`` and
``duckdb-extension-postgres`` (pinned to the duckdb version). Their files are copied into an
``extension_directory`` inside the virtualenv under the names DuckDB expects, and
auto-install/auto-load stay off: DuckDB never tries to download anything.

What DuckLake lacks, and what we do instead (all in this module, so SQL stays unchanged)
-------------------------------------------------------------------------------------
* PRIMARY KEY / UNIQUE / CHECK / FOREIGN KEY and indexes are not supported. Migration DDL is
  translated: constraints are dropped from the DDL (primary-key columns become NOT NULL) and
  recorded in the lake table ``c360_lake_constraints``; ``python -m lib.cli lake check``
  reports any violations. Uniqueness is kept by the code paths that insert (anti-joins,
  version checks) and by the ON CONFLICT translation below.
* Sequences are not supported. ``CREATE SEQUENCE`` creates a PostgreSQL sequence
  ``c360_seq_<name>`` in the catalog database, and ``nextval('name')`` (also inside column
  DEFAULTs) is a per-connection macro over a function that takes blocks of ids from it. Ids are
  unique across processes and increase within a process, with gaps (like any sequence).
* ``INSERT ... ON CONFLICT`` / ``INSERT OR IGNORE|REPLACE`` need a unique index: they are
  rewritten to ``MERGE INTO`` on the conflict columns (or the recorded primary key).
* ``INSERT ... RETURNING`` is not supported by DuckLake: the row is computed into a temporary
  table first, inserted from it, and the RETURNING expressions are read back from it.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
import sqlglot
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlglot import exp

from lib.core import config
from lib.core.errors import WarehouseError, is_conflict

ALIAS = "lake"                        # the attached lake's name inside each process
SEQUENCE_DB = "c360_lake_catalog"     # the catalog database attached as plain PostgreSQL
CONSTRAINTS_TABLE = "c360_lake_constraints"
PG_SEQUENCE_PREFIX = "c360_seq_"
RETURNING_TABLE = "c360_returning"
# DuckDB extension name -> (PyPI wheel's package, file stem inside that wheel)
EXTENSION_WHEELS = {
    "ducklake": ("duckdb_extension_ducklake", "ducklake"),
    "postgres_scanner": ("duckdb_extension_postgres", "postgres"),
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class LakeError(WarehouseError):
    """A lake problem with a message meant for the operator."""


# ---------------------------------------------------------------- spec

@dataclass(frozen=True)
class LakeSpec:
    spec: str                 # the full "ducklake:postgres:..." string given to ATTACH
    conninfo: str             # libpq connection string of the catalog database
    data_path: str | None

    def describe(self) -> str:
        return self.spec


def parse_spec(spec: str, data_path: str | None = None) -> LakeSpec:
    """``ducklake:postgres:<libpq conninfo>`` plus the data path (argument, else C360_LAKE_DATA)."""
    spec = spec.strip()
    prefix = "ducklake:postgres:"
    if not spec.startswith(prefix):
        raise LakeError(f"Unsupported lake spec {spec!r}: use ducklake:postgres:dbname=... host=... "
                        "(a PostgreSQL catalog is what lets several processes share the lake).")
    conninfo = spec[len(prefix):].strip()
    if "password=" in conninfo:
        raise LakeError("Do not put the PostgreSQL password in the lake spec (it is logged): "
                        "use PGPASSWORD or ~/.pgpass.")
    data = data_path or config.setting("lake_data")
    if data and "://" not in data:
        data = str(Path(data).expanduser().resolve())
    if data and not data.endswith("/"):
        data += "/"
    return LakeSpec(spec, conninfo, data)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------- extensions

def extension_directory() -> Path:
    """Inside the virtualenv, so it travels with (and is removed with) the installed packages."""
    return Path(sys.prefix) / "duckdb_extensions"


def duckdb_config() -> dict[str, Any]:
    return {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
            "extension_directory": str(extension_directory())}


@functools.lru_cache(maxsize=1)
def install_extensions() -> Path:
    """Copy the wheels' extension files to where DuckDB's LOAD looks for them (idempotent)."""
    version = "v" + duckdb.__version__
    with duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                            "autoload_known_extensions": False}) as con:
        platform = con.execute("PRAGMA platform").fetchone()[0]
    target_dir = extension_directory() / version / platform
    for name, (package, stem) in EXTENSION_WHEELS.items():
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise LakeError(f"The DuckDB extension wheel {package} is not installed: "
                            f"pip install {package.replace('_', '-')}=={duckdb.__version__}")
        source = Path(list(found.submodule_search_locations)[0]) / "extensions" / version / \
            f"{stem}.duckdb_extension"
        if not source.exists():
            raise LakeError(f"{source} is missing: the {package} wheel does not match "
                            f"duckdb {duckdb.__version__}; install the same version of both.")
        target = target_dir / f"{name}.duckdb_extension"
        if target.exists() and target.stat().st_size == source.stat().st_size:
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        shutil.copyfile(source, partial)
        os.replace(partial, target)   # atomic: a process starting meanwhile never sees half a file
    return extension_directory()


def _database() -> duckdb.DuckDBPyConnection:
    install_extensions()
    db = duckdb.connect(":memory:", config=duckdb_config())
    db.execute("LOAD ducklake")
    db.execute("LOAD postgres")
    # DuckLake never rewrites a data file (new data = new file name), so Parquet footers can be
    # cached for the process's lifetime: saves reopening every file's metadata on each query.
    db.execute("SET parquet_metadata_cache = true")
    return db


# ---------------------------------------------------------------- sequences in PostgreSQL

_TAKE_FUNCTION = """
CREATE OR REPLACE FUNCTION c360_take(seq regclass, n bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE first_id bigint;
BEGIN
  -- Serialise takers of one sequence so that [first_id, first_id + n) is contiguous.
  PERFORM pg_advisory_xact_lock(hashtext('c360_take:' || seq::text));
  first_id := nextval(seq);
  IF n > 1 THEN PERFORM setval(seq, first_id + n - 1); END IF;
  RETURN first_id;
END $$
"""


class Sequences:
    """Lake-wide sequences: PostgreSQL sequences in the catalog database, handed out in blocks.

    Each process keeps a small block per sequence (32 ids, or exactly what a bulk statement
    asks for) so that single-row inserts do not cost a PostgreSQL round trip each.
    """

    BLOCK = 32

    def __init__(self, conninfo: str, db: duckdb.DuckDBPyConnection):
        self.conninfo = conninfo
        self._instance = db
        self._db: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.RLock()
        self._blocks: dict[str, list[int]] = {}   # name -> [next id, end (exclusive)]

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._db is None:
            # Its own connection (cursor) of the lake's DuckDB instance: nextval() runs inside
            # other connections' statements, and a separate client context keeps them apart.
            db = self._instance.cursor()
            db.execute("ATTACH IF NOT EXISTS " + _sql_string(self.conninfo) + " AS "
                       + SEQUENCE_DB + " (TYPE postgres)")
            exists = db.execute("SELECT count(*) FROM postgres_query('" + SEQUENCE_DB + "', "
                                "'SELECT 1 FROM pg_proc WHERE proname = ''c360_take''')").fetchone()[0]
            if not exists:
                try:
                    db.execute("CALL postgres_execute('" + SEQUENCE_DB + "', "
                               + _sql_string(_TAKE_FUNCTION) + ")")
                except duckdb.Error as exc:  # another process created it at the same moment
                    if "concurrently" not in str(exc) and "already exists" not in str(exc):
                        raise
            self._db = db
        return self._db

    @staticmethod
    def pg_name(name: str) -> str:
        bare = name.strip().strip('"').split(".")[-1].lower()
        if not _NAME_RE.match(bare):
            raise LakeError(f"Invalid sequence name {name!r}")
        return PG_SEQUENCE_PREFIX + bare

    def _execute(self, sql: str) -> None:
        with self._lock:
            self._con().execute("CALL postgres_execute('" + SEQUENCE_DB + "', "
                               + _sql_string(sql) + ")")

    def catalog_query(self, sql: str) -> list[tuple]:
        """Read the catalog database directly (lake metadata, for maintenance)."""
        return self._query(sql)

    def _query(self, sql: str) -> list[tuple]:
        with self._lock:
            return self._con().execute("SELECT * FROM postgres_query('" + SEQUENCE_DB + "', "
                                       + _sql_string(sql) + ")").fetchall()

    def create(self, name: str, start: int = 1, *, if_not_exists: bool = False,
               replace: bool = False) -> None:
        pg = self.pg_name(name)
        start = int(start)
        with self._lock:
            self._blocks.pop(pg, None)
            if replace:
                self._execute("DROP SEQUENCE IF EXISTS " + pg)
            exists = "IF NOT EXISTS " if if_not_exists else ""
            try:
                self._execute("CREATE SEQUENCE " + exists + pg + " START " + str(start)
                              + " MINVALUE " + str(min(start, 1)))
            except duckdb.Error as exc:
                if "already exists" in str(exc) and not if_not_exists:
                    raise LakeError(f"Sequence {name} already exists") from exc
                if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                    raise

    def drop(self, name: str, *, if_exists: bool = False) -> None:
        pg = self.pg_name(name)
        with self._lock:
            self._blocks.pop(pg, None)
            self._execute("DROP SEQUENCE " + ("IF EXISTS " if if_exists else "") + pg)

    def positions(self) -> dict[str, int]:
        """Next id each sequence will hand out (for moving a lake back into a file)."""
        out = {}
        names = [r[0] for r in self._query(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
            "AND sequencename LIKE 'c360\\_seq\\_%' ORDER BY 1")]
        for pg in names:
            last, called = self._query("SELECT last_value, is_called FROM " + pg)[0]
            out[pg[len(PG_SEQUENCE_PREFIX):]] = int(last) + 1 if called else int(last)
        return out

    def take(self, name: str, n: int) -> int:
        """First of n contiguous fresh ids."""
        pg = self.pg_name(name)
        with self._lock:
            block = self._blocks.get(pg)
            if block is not None and block[1] - block[0] >= n:
                first = block[0]
                block[0] += n
                return first
            want = n if n >= self.BLOCK else self.BLOCK
            try:
                first = int(self._query("SELECT c360_take(" + _sql_string(pg) + ", "
                                        + str(int(want)) + ")")[0][0])
            except duckdb.Error as exc:
                if "does not exist" in str(exc):
                    raise LakeError(f"Sequence with name {name} does not exist") from exc
                raise
            self._blocks[pg] = [first + n, first + want]
            return first

    def arrow_nextval(self, names: pa.Array) -> pa.Array:
        """Vectorised nextval (DuckDB calls it with up to 2,048 rows at a time)."""
        values = names.to_pylist()
        if not values:
            return pa.array([], pa.int64())
        if all(v == values[0] for v in values):
            first = self.take(values[0], len(values))
            return pa.array(range(first, first + len(values)), pa.int64())
        return pa.array([self.take(v, 1) for v in values], pa.int64())

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# ---------------------------------------------------------------- SQL translation

_TRIGGER = re.compile(
    r"\b(PRIMARY\s+KEY|UNIQUE|REFERENCES|FOREIGN\s+KEY|SEQUENCE|ON\s+CONFLICT"
    r"|INSERT\s+OR\s+(REPLACE|IGNORE)|RETURNING|(CREATE|DROP)\s+(UNIQUE\s+)?INDEX)\b"
    r"|\bCHECK\s*\(", re.I)


@dataclass(frozen=True)
class SequenceOp:
    action: str                # "create" or "drop"
    name: str
    start: int = 1
    if_not_exists: bool = False
    replace: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class ReturningInsert:
    """INSERT ... RETURNING split into: compute rows, insert them, read RETURNING back."""
    compute_sql: str           # CREATE OR REPLACE TEMP TABLE c360_returning AS SELECT ...
    insert_sql: str            # INSERT INTO target (...) SELECT ... FROM c360_returning
    result_sql: str            # SELECT <returning> FROM c360_returning AS <target>


@dataclass(frozen=True)
class Plan:
    sql: str | None                              # what DuckDB runs (None: nothing left)
    sequence_ops: tuple[SequenceOp, ...] = ()
    returning: ReturningInsert | None = None


@dataclass
class Constraint:
    kind: str                  # primary_key, unique, check
    columns: list[str] = field(default_factory=list)
    expression: str | None = None


def _ident(node) -> str:
    return node.name if isinstance(node, exp.Expression) else str(node)


def _column_names(nodes) -> list[str]:
    out = []
    for node in nodes or []:
        if isinstance(node, exp.Ordered):
            node = node.this
        out.append(node.name)
    return out


def _strip_column_constraints(coldef: exp.ColumnDef, found: list[Constraint]) -> bool:
    """Remove what DuckLake refuses from one column definition; record it. True if changed."""
    kept, changed, not_null = [], False, False
    name = coldef.name
    for c in coldef.args.get("constraints") or []:
        kind = c.args.get("kind")
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            found.append(Constraint("primary_key", [name]))
            not_null, changed = True, True
        elif isinstance(kind, exp.UniqueColumnConstraint):
            found.append(Constraint("unique", [name]))
            changed = True
        elif isinstance(kind, exp.CheckColumnConstraint):
            found.append(Constraint("check", [name], kind.this.sql("duckdb")))
            changed = True
        elif isinstance(kind, exp.Reference) or isinstance(c, exp.Reference):
            changed = True
        else:
            kept.append(c)
    if not_null and not any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                            for c in kept):
        kept.insert(0, exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
    if changed:
        coldef.set("constraints", kept)
    return changed


def _table_constraint(node: exp.Expression, found: list[Constraint]) -> bool:
    """Record a table-level constraint; True if the node is one (and must be removed)."""
    if isinstance(node, exp.Constraint):   # CONSTRAINT name <kind>
        return all(_table_constraint(inner, found) for inner in node.expressions)
    if isinstance(node, exp.PrimaryKey):
        found.append(Constraint("primary_key", _column_names(node.expressions)))
        return True
    if isinstance(node, exp.UniqueColumnConstraint):
        cols = _column_names(node.this.expressions) if isinstance(node.this, exp.Schema) else []
        found.append(Constraint("unique", cols))
        return True
    if isinstance(node, exp.CheckColumnConstraint):
        found.append(Constraint("check", [], node.this.sql("duckdb")))
        return True
    return isinstance(node, exp.ForeignKey)


def _record_sql(table: str, found: list[Constraint], replace: bool) -> list[str]:
    """Statements that keep the constraint registry in step with the DDL."""
    out = ["CREATE TABLE IF NOT EXISTS " + CONSTRAINTS_TABLE + " (table_name VARCHAR NOT NULL,"
           " kind VARCHAR NOT NULL, columns VARCHAR[] NOT NULL, expression VARCHAR)"]
    if replace:
        out.append(exp.delete(CONSTRAINTS_TABLE, where=exp.column("table_name").eq(
            exp.Literal.string(table))).sql("duckdb"))
    for c in found:
        row = exp.Tuple(expressions=[
            exp.Literal.string(table), exp.Literal.string(c.kind),
            exp.Array(expressions=[exp.Literal.string(col) for col in c.columns])
            if c.columns else exp.cast(exp.Array(expressions=[]), "VARCHAR[]"),
            exp.Literal.string(c.expression) if c.expression else exp.null()])
        out.append(exp.insert(exp.Values(expressions=[row]), CONSTRAINTS_TABLE).sql("duckdb"))
    return out


class Translator:
    """Rewrites statements that DuckLake cannot run into ones it can (see module docstring)."""

    def __init__(self, lake: "Lake"):
        self.lake = lake

    @functools.lru_cache(maxsize=2048)
    def plan(self, sql: str) -> Plan:
        if not _TRIGGER.search(sql):
            return Plan(sql)
        try:
            statements = [s.query for s in duckdb.extract_statements(sql)]
        except duckdb.Error:
            return Plan(sql)            # let DuckDB report the syntax error itself
        out: list[str] = []
        ops: list[SequenceOp] = []
        returning = None
        changed = False
        for text in statements:
            if not _TRIGGER.search(text):
                out.append(text)
                continue
            try:
                tree = sqlglot.parse_one(text, read="duckdb")
            except sqlglot.errors.ParseError:
                out.append(text)
                continue
            result = self._rewrite(tree)
            if result is None:
                out.append(text)
                continue
            changed = True
            new_sql, new_ops, new_returning = result
            out.extend(new_sql)
            ops.extend(new_ops)
            if new_returning is not None:
                if len(statements) != 1:
                    raise LakeError("INSERT ... RETURNING must be sent on its own on a lake")
                returning = new_returning
        if not changed:
            return Plan(sql)
        return Plan(";\n".join(s.strip().rstrip(";") for s in out) if out else None,
                    tuple(ops), returning)

    # -- per statement: None = unchanged, else (statements, sequence ops, returning)

    def _rewrite(self, tree: exp.Expression):
        if isinstance(tree, exp.Create):
            kind = (tree.args.get("kind") or "").upper()
            if kind == "SEQUENCE":
                props = tree.args.get("properties")
                start = 1
                for p in (props.expressions if props else []):
                    if isinstance(p, exp.SequenceProperties) and p.args.get("start") is not None:
                        start = int(p.args["start"].this)
                return [], [SequenceOp("create", tree.this.name, start,
                                       if_not_exists=bool(tree.args.get("exists")),
                                       replace=bool(tree.args.get("replace")))], None
            if kind == "INDEX":
                index = tree.this
                if tree.args.get("unique"):
                    cols = _column_names(index.args["params"].args.get("columns"))
                    return _record_sql(index.args["table"].name,
                                       [Constraint("unique", cols)], False), [], None
                return [], [], None
            if kind == "TABLE" and isinstance(tree.this, exp.Schema):
                return self._create_table(tree)
            return None
        if isinstance(tree, exp.Drop):
            kind = (tree.args.get("kind") or "").upper()
            if kind == "SEQUENCE":
                return [], [SequenceOp("drop", t.name, if_exists=bool(tree.args.get("exists")))
                            for t in tree.args.get("tables") or [tree.this]], None
            if kind == "INDEX":
                return [], [], None
            return None
        if isinstance(tree, exp.Alter):
            return self._alter(tree)
        if isinstance(tree, exp.Insert):
            if tree.args.get("conflict") is not None or tree.args.get("alternative"):
                if tree.args.get("returning"):
                    raise LakeError("INSERT ... ON CONFLICT ... RETURNING is not supported on a lake")
                return [self._merge(tree)], [], None
            if tree.args.get("returning"):
                return self._returning(tree)
        return None

    def _create_table(self, tree: exp.Create):
        schema = tree.this
        found: list[Constraint] = []
        kept, changed = [], False
        for node in schema.expressions:
            if isinstance(node, exp.ColumnDef):
                changed |= _strip_column_constraints(node, found)
                kept.append(node)
            elif _table_constraint(node, found):
                changed = True
            else:
                kept.append(node)
        if not changed:
            return None
        pk_cols = {c for con in found if con.kind == "primary_key" for c in con.columns}
        for node in kept:
            if isinstance(node, exp.ColumnDef) and node.name in pk_cols and not any(
                    isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                    for c in node.args.get("constraints") or []):
                node.set("constraints", [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
                         + list(node.args.get("constraints") or []))
        schema.set("expressions", kept)
        table = schema.this.name
        return [tree.sql("duckdb")] + _record_sql(table, found, replace=True), [], None

    def _alter(self, tree: exp.Alter):
        found: list[Constraint] = []
        kept, changed = [], False
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                changed |= _strip_column_constraints(action, found)
                kept.append(action)
            elif isinstance(action, exp.AddConstraint):
                changed |= all(_table_constraint(n, found) for n in action.expressions)
            else:
                kept.append(action)
        if not changed:
            return None
        out = []
        if kept:
            tree.set("actions", kept)
            out.append(tree.sql("duckdb"))
        return out + _record_sql(tree.this.name, found, replace=False), [], None

    # -- INSERT rewrites

    def _target(self, tree: exp.Insert) -> tuple[str, list[str]]:
        target = tree.this
        if isinstance(target, exp.Schema):
            return target.this.name, [_ident(e) for e in target.expressions]
        return target.name, []

    def _merge(self, tree: exp.Insert) -> str:
        table, cols = self._target(tree)
        cols = cols or [c for c, _, _ in self.lake.columns(table)]
        conflict = tree.args.get("conflict")
        alternative = (tree.args.get("alternative") or "").upper()
        keys: list[list[str]]
        if conflict is not None and conflict.args.get("conflict_keys"):
            keys = [_column_names(conflict.args["conflict_keys"])]
        else:
            keys = self.lake.unique_keys(table, primary_only=alternative == "REPLACE")
            if not keys:
                raise LakeError(f"No primary key or unique constraint is recorded for {table}; "
                                "name the conflict columns: ON CONFLICT (col, ...)")
        target = exp.to_identifier(table).sql("duckdb")
        on = " OR ".join(
            "(" + " AND ".join(target + "." + exp.to_identifier(k).sql("duckdb") + " = excluded."
                               + exp.to_identifier(k).sql("duckdb") for k in key) + ")"
            for key in keys)
        updates: list[str] = []
        condition = None
        if conflict is not None and "UPDATE" in str(conflict.args.get("action") or "").upper():
            for assignment in conflict.expressions:
                rhs = assignment.expression.transform(
                    lambda n: exp.column(n.name, table=table)
                    if isinstance(n, exp.Column) and not n.table else n)
                updates.append(assignment.this.sql("duckdb") + " = " + rhs.sql("duckdb"))
            where = conflict.args.get("where")
            if where is not None:
                condition = where.this.transform(
                    lambda n: exp.column(n.name, table=table)
                    if isinstance(n, exp.Column) and not n.table else n).sql("duckdb")
        elif alternative == "REPLACE":
            key_cols = {k for key in keys for k in key}
            updates = [exp.to_identifier(c).sql("duckdb") + " = excluded."
                       + exp.to_identifier(c).sql("duckdb") for c in cols if c not in key_cols]
        quoted = [exp.to_identifier(c).sql("duckdb") for c in cols]
        source = tree.expression.sql("duckdb")
        parts = ["MERGE INTO", target, "USING (" + source + ") AS excluded(" + ", ".join(quoted) + ")",
                 "ON", on]
        if updates:
            parts += ["WHEN MATCHED" + (" AND (" + condition + ")" if condition else ""),
                      "THEN UPDATE SET", ", ".join(updates)]
        parts += ["WHEN NOT MATCHED THEN", "INSERT (" + ", ".join(quoted) + ")",
                  "VALUES (" + ", ".join("excluded." + q for q in quoted) + ")"]
        return " ".join(parts)

    def _returning(self, tree: exp.Insert):
        table, cols = self._target(tree)
        columns = self.lake.columns(table)
        if not columns:
            return None                 # a temporary table: DuckDB itself supports RETURNING
        cols = cols or [c for c, _, _ in columns]
        given = {c.lower() for c in cols}
        source_alias = "c360_src"
        select = []
        for name, dtype, default in columns:
            q = exp.to_identifier(name).sql("duckdb")
            if name.lower() in given:
                select.append(source_alias + "." + q + " AS " + q)
            else:
                expr = default if default not in (None, "NULL") else "NULL"
                select.append("CAST(" + expr + " AS " + dtype + ") AS " + q)
        quoted_given = [exp.to_identifier(c).sql("duckdb") for c in cols]
        compute = " ".join([
            "CREATE OR REPLACE TEMP TABLE", RETURNING_TABLE, "AS", "SELECT", ", ".join(select),
            "FROM (" + tree.expression.sql("duckdb") + ") AS", source_alias,
            "(" + ", ".join(quoted_given) + ")"])
        all_cols = ", ".join(exp.to_identifier(c).sql("duckdb") for c, _, _ in columns)
        target = exp.to_identifier(table).sql("duckdb")
        insert = " ".join(["INSERT INTO", target, "(" + all_cols + ")", "SELECT", all_cols,
                           "FROM temp.main." + RETURNING_TABLE])
        result = " ".join(["SELECT", ", ".join(e.sql("duckdb") for e in tree.args["returning"].expressions),
                           "FROM temp.main." + RETURNING_TABLE, "AS", target])
        return [], [], ReturningInsert(compute, insert, result)


# ---------------------------------------------------------------- empty tables

_CREATES_TABLE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))*)",
    re.I)
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


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
        cols = con.execute("SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
                           "WHERE database_name = ? AND schema_name = 'main' AND table_name = ? "
                           "ORDER BY column_index", [ALIAS, table]).fetchall()
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
        self.db.create_function("c360_nextval", self.sequences.arrow_nextval, ["VARCHAR"],
                                "BIGINT", type="arrow", side_effects=True)
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
                raise LakeError(f"C360_LAKE_DATA ({self.spec.data_path}) is not where this lake "
                                f"keeps its files ({stored}): unset it (the catalog knows the "
                                "path) or correct it.") from exc
            if "DATA_PATH" in text or "data path" in text.lower():
                raise LakeError(f"The lake {self.spec.spec} does not exist yet and no data path "
                                "is configured: set C360_LAKE_DATA to the shared directory "
                                "(or object-store prefix) for its Parquet files.") from exc
            raise LakeError(f"Could not attach the lake {self.spec.spec}: {text.splitlines()[0]}"
                            " — is PostgreSQL reachable, does the database exist, and is the "
                            "password in PGPASSWORD or ~/.pgpass?") from exc

    def raw_connection(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with the lake as its default database and nextval() wired up."""
        cur = self.db.cursor()
        cur.execute("USE " + ALIAS)
        cur.execute("CREATE OR REPLACE TEMP MACRO nextval(sequence_name) AS "
                    "c360_nextval(sequence_name)")
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
                "ORDER BY column_index", [ALIAS, table]).fetchall()
        cols = [(r[0], r[1], r[2]) for r in rows]
        if cols:
            self._columns_cache[table] = cols
        return cols

    def unique_keys(self, table: str, primary_only: bool = False) -> list[list[str]]:
        with self.db.cursor() as cur:
            exists = cur.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                                 "AND table_name = ?", [ALIAS, CONSTRAINTS_TABLE]).fetchone()[0]
            if not exists:
                return []
            rows = cur.execute(
                "SELECT kind, columns FROM " + ALIAS + ".main." + CONSTRAINTS_TABLE +
                " WHERE table_name = ? AND kind IN ('primary_key', 'unique') "
                "ORDER BY kind = 'unique'", [table]).fetchall()
        return [list(cols) for kind, cols in rows if not primary_only or kind == "primary_key"]

    def tables_without_statistics(self) -> list[str]:
        """Lake tables that never held a row (see prime_empty_tables)."""
        rows = self.sequences.catalog_query(
            "SELECT t.table_name FROM ducklake_table t LEFT JOIN ducklake_table_stats s "
            "USING (table_id) WHERE t.end_snapshot IS NULL AND s.table_id IS NULL ORDER BY 1")
        return [r[0] for r in rows]

    def forget_schema(self) -> None:
        self._columns_cache.clear()
        self.translator.plan.cache_clear()

    # -- the SQLAlchemy hook

    def before_execute(self, conn, cursor, statement, parameters, context, executemany):
        if _CREATES_TABLE.search(statement):
            conn.info.setdefault("c360_created", set()).update(
                m.group(1).strip('"').split(".")[-1].strip('"')
                for m in _CREATES_TABLE.finditer(statement))
        plan = self.translator.plan(statement)
        if plan.sql == statement and not plan.sequence_ops and plan.returning is None:
            return statement, parameters
        for op in plan.sequence_ops:
            if op.action == "create":
                self.sequences.create(op.name, op.start, if_not_exists=op.if_not_exists,
                                      replace=op.replace)
            else:
                self.sequences.drop(op.name, if_exists=op.if_exists)
        if plan.returning is not None:
            if executemany:
                raise LakeError("INSERT ... RETURNING with many parameter sets is not supported "
                                "on a lake")
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
    eng = sa.create_engine("duckdb://", creator=lambda: ConnectionWrapper(lake.raw_connection()),
                           poolclass=sa.pool.QueuePool, pool_pre_ping=False)
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


# ---------------------------------------------------------------- moving a warehouse in and out

SOURCE_DB = "c360_source"
# Row count and an order-independent checksum of every row (the restore drill's method:
# sensitive to any changed value and to duplicated rows). Table names come from DuckDB's own
# catalog and are quoted; nothing here comes from a user.
_CHECKSUM_SQL = ("SELECT count(*), CAST(coalesce(sum(hash(t)::HUGEINT), 0) AS VARCHAR) "
                 "FROM {table} AS t")


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
    direction: str             # "file->lake" or "lake->file"
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


def _quote(*parts: str) -> str:
    return ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in parts)


def _checksum(con: duckdb.DuckDBPyConnection, database: str, table: str) -> tuple[int, str]:
    n, checksum = con.execute(_CHECKSUM_SQL.replace("{table}", _quote(database, "main", table))
                              ).fetchone()
    return int(n), str(checksum)


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, str]]:
    return con.execute("SELECT schema_name, table_name, sql FROM duckdb_tables() "
                       "WHERE database_name = ? AND NOT temporary ORDER BY table_name",
                       [database]).fetchall()


def _app_tables(con, database: str) -> list[tuple[str, str]]:
    rows = _tables(con, database)
    other = sorted({s for s, _, _ in rows if s != "main"})
    if other:
        raise LakeError(f"Only the main schema is moved; {database} also has schemas {other}")
    return [(t, sql) for _, t, sql in rows if t != CONSTRAINTS_TABLE]


def _views(con, database: str) -> list[tuple[str, str]]:
    return con.execute("SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? "
                       "AND NOT internal AND NOT temporary ORDER BY view_name", [database]).fetchall()


def _attach_file(con, path: Path, alias: str, read_only: bool) -> None:
    sql = "ATTACH " + _sql_string(str(path)) + " AS " + alias + (" (READ_ONLY)" if read_only else "")
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise LakeError(f"{path} is open in another process (usually the running app): stop "
                            "it first; a warehouse is moved while nobody writes to it.") from exc
        raise


# Row order of the tables a 360° page looks one record up in, kept by DuckLake itself
# (ALTER TABLE ... SET SORTED BY: files are written sorted on insert, compaction and inlined
# data flushes). Parquet is pruned by each file's and row group's min/max, so a lookup reads a
# few row groups instead of every one. The audit log grows in time order, so without a sort
# order every file spans every entity_id and a record's history is a scan of the whole log (the
# file warehouse has an index for it instead, migration 0009). The Overview does not suffer:
# it reads the pre-aggregated tables.
SORTED_BY = {"events": ("customer_id", "event_time"), "orders": ("customer_id", "order_time"),
             "consents": ("customer_id", "recorded_at"), "tags": ("customer_id", "tag"),
             "quality_flags": ("customer_id", "flag_id"), "audit_log": ("entity_id", "occurred_at")}


# Rows per Parquet row group, per table (DuckLake's default is 122,880). A customer is
# looked up by id on every 360° page: with 16,384-row groups a lookup decodes 1/8 of the data
# (measured on 1M customers: 180 ms -> 55 ms). Smaller groups were slower again (more
# metadata per file); the big fact tables keep the default (their lookups prune by order).
ROW_GROUP_ROWS = {"customers": 16_384}


def apply_table_options(con) -> list[str]:
    """Set the per-table Parquet options and sort orders above on the lake's tables that exist
    (idempotent; not in the transaction that created the tables)."""
    existing = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?",
                                          [ALIAS]).fetchall()}
    done = []
    for table, rows in ROW_GROUP_ROWS.items():
        if table in existing:
            con.execute("CALL ducklake_set_option('" + ALIAS + "', 'parquet_row_group_size', "
                        + str(int(rows)) + ", table_name => " + _sql_string(table) + ")")
            done.append(table)
    for table, columns in SORTED_BY.items():      # names from the dict above, never from input
        if table in existing:
            con.execute("ALTER TABLE " + _quote(ALIAS, "main", table) + " SET SORTED BY ("
                        + ", ".join(_quote(c) + " ASC" for c in columns) + ")")
            done.append(table)
    return done


def migrate_file_to_lake(path: Path, spec: str, data_path: str | None = None,
                         progress=print, cluster: bool = True) -> MoveResult:
    """Copy every table, view and sequence position of a DuckDB file into an empty lake,
    then compare row counts and checksums table by table."""
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise LakeError(f"{path} does not exist")
    lake = Lake(parse_spec(spec, data_path))
    try:
        con = lake.raw_connection()   # with nextval(): column DEFAULTs refer to sequences
        existing = [t for t, _ in _app_tables(con, ALIAS)]
        if existing:
            raise LakeError(f"The lake already has {len(existing)} table(s) ({', '.join(existing[:5])}"
                            f"{' ...' if len(existing) > 5 else ''}): migrate into an empty lake "
                            "(a new PostgreSQL database and data path).")
        _attach_file(con, path, SOURCE_DB, read_only=True)
        sequences = {}
        for name, start, last in con.execute(
                "SELECT sequence_name, start_value, last_value FROM duckdb_sequences() "
                "WHERE database_name = ? AND schema_name = 'main'", [SOURCE_DB]).fetchall():
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
                con.execute("INSERT INTO " + _quote(ALIAS, "main", table)
                            + " SELECT * FROM " + _quote(SOURCE_DB, "main", table) + order)
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
        return MoveResult("file->lake", checks, sequences, [v for v, _ in views],
                          time.perf_counter() - started)
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
        has_registry = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                                   "AND table_name = ?", [ALIAS, CONSTRAINTS_TABLE]).fetchone()[0]
        registry: dict[str, list] = {}
        if has_registry:
            for table, kind, columns, expression in con.execute(
                    "SELECT table_name, kind, columns, expression FROM " + ALIAS + ".main."
                    + CONSTRAINTS_TABLE + " ORDER BY kind <> 'primary_key'").fetchall():
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
                con.execute("INSERT INTO " + _quote("c360_target", "main", table)
                            + " SELECT * FROM " + _quote(ALIAS, "main", table))
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
        return MoveResult("lake->file", checks, sequences, [v for v, _ in views],
                          time.perf_counter() - started)
    finally:
        lake.close()


# ---------------------------------------------------------------- maintenance

def _call(con, sql: str, attempts: int = 8) -> list[tuple]:
    """Run a maintenance call, retrying when a concurrent writer commits first."""
    for attempt in range(attempts):
        try:
            return con.execute(sql).fetchall()
        except duckdb.Error as exc:
            try:
                con.execute("ROLLBACK")     # the failed attempt leaves an aborted transaction
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
    for table in (lake.tables_without_statistics() if lake else []):
        con.execute("BEGIN")
        try:
            primed += prime_empty_tables(con, [table])
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")   # a concurrent writer got there first: next run retries
    apply_table_options(con)
    flushed = _call(con, "SELECT count(*) FROM ducklake_flush_inlined_data('" + ALIAS + "')")[0][0]
    rewritten = _call(con, "SELECT count(*) FROM ducklake_rewrite_data_files('" + ALIAS + "')")[0][0]
    merged = _call(con, "SELECT count(*) FROM ducklake_merge_adjacent_files('" + ALIAS + "')")[0][0]
    return {"primed_tables": len(primed), "flushed_tables": int(flushed),
            "rewritten_files": int(rewritten), "merged_files": int(merged)}


def checkpoint(con) -> None:
    """DuckLake's all-in-one maintenance (flush, expire, merge, rewrite, clean up) by its options."""
    _call(con, "CHECKPOINT")


def expire(con, older_than_days: float, dry_run: bool = False) -> int:
    """Forget snapshots older than N days (time travel before then stops working)."""
    # count(*) in SQL: the rows carry timestamps with time zone, which Python would need pytz for
    rows = _call(con, "SELECT count(*) FROM ducklake_expire_snapshots('" + ALIAS + "', dry_run => "
                 + ("true" if dry_run else "false") + ", older_than => now() - to_microseconds("
                 + str(int(older_than_days * 86_400_000_000)) + "))")
    return int(rows[0][0])


def cleanup(con, older_than_days: float, dry_run: bool = False) -> int:
    """Delete data files no snapshot needs any more, once they are older than N days (a reader
    that started before the expiry may still be reading them)."""
    interval = "now() - to_microseconds(" + str(int(older_than_days * 86_400_000_000)) + ")"
    flag = "true" if dry_run else "false"
    old = _call(con, "SELECT count(*) FROM ducklake_cleanup_old_files('" + ALIAS + "', dry_run => "
                + flag + ", older_than => " + interval + ")")
    orphaned = _call(con, "SELECT count(*) FROM ducklake_delete_orphaned_files('" + ALIAS
                     + "', dry_run => " + flag + ", older_than => " + interval + ")")
    return int(old[0][0]) + int(orphaned[0][0])


def info(con) -> dict:
    snapshots = con.execute("SELECT count(*), CAST(min(snapshot_time) AS VARCHAR), "
                            "CAST(max(snapshot_time) AS VARCHAR) FROM "
                            "ducklake_snapshots('" + ALIAS + "')").fetchone()
    files = con.execute("SELECT count(*), coalesce(sum(file_size_bytes), 0), "
                        "coalesce(sum(delete_file_count), 0) FROM ducklake_table_info('"
                        + ALIAS + "')").fetchone()
    data_path = con.execute("SELECT data_path FROM ducklake_settings('" + ALIAS + "')").fetchone()[0]
    return {"snapshots": int(snapshots[0]), "oldest_snapshot": snapshots[1],
            "newest_snapshot": snapshots[2], "tables": int(files[0]),
            "data_bytes": int(files[1]), "delete_files": int(files[2]), "data_path": data_path}


def constraint_violations(con) -> list[dict]:
    """Rows that break a recorded PRIMARY KEY / UNIQUE / CHECK constraint (the lake cannot
    enforce them itself)."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                         "AND table_name = ?", [ALIAS, CONSTRAINTS_TABLE]).fetchone()[0]
    if not exists:
        return []
    out = []
    for table, kind, columns, expression in con.execute(
            "SELECT table_name, kind, columns, expression FROM " + CONSTRAINTS_TABLE
            + " ORDER BY table_name, kind").fetchall():
        target = _quote(ALIAS, "main", table)
        if kind in ("primary_key", "unique"):
            cols = ", ".join(_quote(c) for c in columns)
            nulls = " AND ".join(_quote(c) + " IS NOT NULL" for c in columns)
            sql = ("SELECT count(*) FROM (SELECT " + cols + " FROM " + target + " WHERE " + nulls
                   + " GROUP BY ALL HAVING count(*) > 1)")
        else:
            sql = "SELECT count(*) FROM " + target + " WHERE NOT coalesce((" + expression + "), true)"
        n = con.execute(sql).fetchone()[0]
        if n:
            out.append({"table": table, "kind": kind, "columns": list(columns),
                        "expression": expression, "violations": int(n)})
    return out
