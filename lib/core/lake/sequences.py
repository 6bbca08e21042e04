"""Sequences kept in the PostgreSQL catalog (DuckLake has none): nextval() for every process."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa

from lib.core.lake.spec import _NAME_RE, PG_SEQUENCE_PREFIX, SEQUENCE_DB, LakeError, _sql_string

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
        self._blocks: dict[str, list[int]] = {}  # name -> [next id, end (exclusive)]

    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._db is None:
            # Its own connection (cursor) of the lake's DuckDB instance: nextval() runs inside
            # other connections' statements, and a separate client context keeps them apart.
            db = self._instance.cursor()
            db.execute("ATTACH IF NOT EXISTS " + _sql_string(self.conninfo) + " AS " + SEQUENCE_DB + " (TYPE postgres)")
            exists = db.execute(
                "SELECT count(*) FROM postgres_query('" + SEQUENCE_DB + "', "
                "'SELECT 1 FROM pg_proc WHERE proname = ''c360_take''')"
            ).fetchone()[0]
            if not exists:
                try:
                    db.execute("CALL postgres_execute('" + SEQUENCE_DB + "', " + _sql_string(_TAKE_FUNCTION) + ")")
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
            self._con().execute("CALL postgres_execute('" + SEQUENCE_DB + "', " + _sql_string(sql) + ")")

    def catalog_query(self, sql: str) -> list[tuple]:
        """Read the catalog database directly (lake metadata, for maintenance)."""
        return self._query(sql)

    def _query(self, sql: str) -> list[tuple]:
        with self._lock:
            return (
                self._con()
                .execute("SELECT * FROM postgres_query('" + SEQUENCE_DB + "', " + _sql_string(sql) + ")")
                .fetchall()
            )

    def create(self, name: str, start: int = 1, *, if_not_exists: bool = False, replace: bool = False) -> None:
        pg = self.pg_name(name)
        start = int(start)
        with self._lock:
            self._blocks.pop(pg, None)
            if replace:
                self._execute("DROP SEQUENCE IF EXISTS " + pg)
            exists = "IF NOT EXISTS " if if_not_exists else ""
            try:
                self._execute(
                    "CREATE SEQUENCE " + exists + pg + " START " + str(start) + " MINVALUE " + str(min(start, 1))
                )
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
        names = [
            r[0]
            for r in self._query(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
                "AND sequencename LIKE 'c360\\_seq\\_%' ORDER BY 1"
            )
        ]
        for pg in names:
            last, called = self._query("SELECT last_value, is_called FROM " + pg)[0]
            out[pg[len(PG_SEQUENCE_PREFIX) :]] = int(last) + 1 if called else int(last)
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
                first = int(self._query("SELECT c360_take(" + _sql_string(pg) + ", " + str(int(want)) + ")")[0][0])
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
