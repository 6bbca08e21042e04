"""The only module that opens the warehouse.

Everything else asks this module for data by *query name* (``read("kpi_customers", ...)``)
or runs writes inside ``transaction()``. Named queries live in ``lib/core/sql/*.sql`` files, in
blocks headed ``-- name: query_name``; parameters are bound (``:start``), never formatted in.

Locations (``C360_WAREHOUSE`` or ``warehouse`` in secrets):
  * a file path ``data/warehouse.duckdb`` (the default) or ``:memory:``;
  * a SQLAlchemy URL ``duckdb:///path``;
  * a DuckLake spec ``ducklake:...`` (see ``lib/core/lake/``), for several processes at once.

Why the pool matters: DuckDB lets one process hold a file read-write. A QueuePool keeps that
lock for the app's lifetime, so a second process gets a lock error; we turn it into a
message that says what to do (``WarehouseLockedError``).
"""

from __future__ import annotations

import functools
import json
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lib.core import config
from lib.core.errors import (  # noqa: F401 - the storage errors are part of this module's API
    WarehouseBusyError,
    WarehouseError,
    WarehouseLockedError,
    WriteConflictError,
    is_conflict,
)

SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


# ---------------------------------------------------------------- locations and engines


@dataclass(frozen=True)
class Location:
    kind: str  # "file" or "lake"
    url: str  # SQLAlchemy URL for files; the raw spec for lakes
    path: Path | None = None

    def describe(self) -> str:
        return str(self.path) if self.path else self.url


def parse_location(spec: str) -> Location:
    """Turn the configured warehouse location into a Location."""
    spec = spec.strip()
    if spec.startswith("ducklake:"):
        return Location("lake", spec)
    if spec.startswith("duckdb://"):
        raw = spec[len("duckdb:///") :] if spec.startswith("duckdb:///") else ""
        path = Path(raw) if raw and raw != ":memory:" else None
        return Location("file", spec, path)
    if spec == ":memory:":
        return Location("file", "duckdb:///:memory:", None)
    path = Path(spec)
    if not path.is_absolute():
        path = config.ROOT / path
    return Location("file", f"duckdb:///{path}", path)


class WarehouseLocationError(WarehouseError):
    """The configured warehouse location is malformed or names no warehouse."""


def check_location(*, must_exist: bool = True) -> Location:
    """Check the configured location before a job starts, with one line saying what is wrong.

    A URL of another scheme (``postgresql://...``) would otherwise be taken for a relative file
    path and a new empty warehouse created under that name; a mistyped path would do the same.
    `must_exist=False` for the jobs that create a warehouse (init, demo, lake migrate).
    """
    where = "--warehouse" if _override else "C360_WAREHOUSE"
    spec = (_override or config.warehouse_location() or "").strip()
    if not spec:
        raise WarehouseLocationError(f"{where} is empty: give a file path, duckdb:///PATH or a ducklake: spec.")
    if spec.startswith("ducklake:"):
        if not spec[len("ducklake:") :].strip():
            raise WarehouseLocationError(f"{where} says ducklake: but names no catalog (docs/operations.md, DuckLake).")
        return parse_location(spec)
    scheme = spec.split("://", 1)[0] if "://" in spec else None
    if scheme is not None and not spec.startswith("duckdb:///"):
        raise WarehouseLocationError(
            f"{where} is a {scheme}:// URL, which is not a warehouse location: give a file path, "
            "duckdb:///PATH (note the three slashes) or a ducklake: spec."
        )
    loc = parse_location(spec)
    if loc.path is None:
        return loc  # :memory:
    if loc.path.is_dir():
        raise WarehouseLocationError(f"{where} names the directory {loc.path}, not a warehouse file.")
    if must_exist and not loc.path.exists():
        raise WarehouseLocationError(
            f"There is no warehouse at {loc.path} ({where}): check the "
            "path, or create one with `python -m lib.cli init`."
        )
    return loc


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_override: str | None = None


def use(spec: str | None) -> None:
    """Point this process at another warehouse (tests, CLI ``--warehouse``). None = configured."""
    global _override
    _override = spec


def current_location() -> Location:
    return parse_location(_override or config.warehouse_location())


def engine() -> Engine:
    """The process-wide engine for the current location (created once, QueuePool)."""
    with _engines_lock:
        return _engine_locked()


def _engine_locked() -> Engine:
    loc = current_location()
    eng = _engines.get(loc.url)
    if eng is None:
        eng = _create_engine(loc)
        _engines[loc.url] = eng
    return eng


def _checkout(how: Callable[[Engine], T]) -> T:
    """A pooled connection, taken while holding the engines lock.

    Taking it in one step with looking the engine up means `closed()` can never dispose an
    engine between the two: a thread that found the engine just before a restore closed it
    would otherwise open a connection to the file being replaced (and its write be lost).
    """
    with _engines_lock:
        return how(_engine_locked())


def _create_engine(loc: Location) -> Engine:
    if loc.kind == "lake":
        from lib.core import lake  # optional deployment; imported only when configured

        return lake.create_engine(loc.url)
    if loc.path is not None:
        _opened_stamps[loc.url] = _file_stamp(loc.path)
        # The file, its write-ahead log and every directory made for them are private (0600 /
        # 0700): they hold personal data and password hashes (docs/security.md).
        config.restrict_new_files()
        config.private_dir(loc.path.parent)
        for private in (loc.path, loc.path.with_name(loc.path.name + ".wal")):
            config.private_file(private)
    # Never let DuckDB try to download extensions: this runs on locked-down servers.
    connect_args = {"config": {"autoinstall_known_extensions": False, "autoload_known_extensions": False}}
    eng = sa.create_engine(loc.url, connect_args=connect_args, pool_pre_ping=False)

    @sa.event.listens_for(eng, "connect")
    def _no_progress_bar(dbapi_conn, _record):
        # long statements (index builds, imports) would draw it into job logs and test output
        dbapi_conn.execute("SET enable_progress_bar = false")

    try:
        with eng.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - translated below
        raise _translate(exc, loc) from exc
    return eng


def dispose() -> None:
    """Close every pooled connection (releases the file lock; used by restore and tests)."""
    with _engines_lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


@contextmanager
def closed(wait_seconds: float) -> Iterator[None]:
    """Close every pooled connection and keep new ones waiting until the block ends.

    For work on the file itself (snapshot copy, restore swap). Holding the engines lock makes
    `engine()` block in other threads (Streamlit sessions), so nobody re-opens the file between
    the close and the end of the block. Waits up to `wait_seconds` for running queries.
    """
    with _engines_lock:
        engines = list(_engines.values())
        deadline = time.monotonic() + wait_seconds
        while any(e.pool.checkedout() for e in engines):
            if time.monotonic() > deadline:
                raise WarehouseBusyError(
                    "Other sessions kept running queries; try again, or stop the app and use the CLI."
                )
            time.sleep(0.05)
        for eng in engines:
            eng.dispose()
        _engines.clear()
        yield


def _translate(exc: Exception, loc: Location | None = None) -> Exception:
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        where = (loc or current_location()).describe()
        return WarehouseLockedError(
            f"The warehouse {where} is open in another process (usually the running app: "
            "`make run`). DuckDB allows one writer process per file. Stop the app first, "
            "run this job from the app's admin pages, or deploy on DuckLake "
            "(docs/operations.md) so that jobs and the app can share the warehouse."
        )
    return exc


# ---------------------------------------------------------------- named queries

_NAME_RE = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", re.M)


_INCLUDE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@functools.lru_cache(maxsize=1)
def _queries() -> dict[str, str]:
    """Every named query; `{{name}}` inside one is replaced by the text of block `name` (a
    shared fragment such as a filter written once for several queries; fragments may include
    fragments, a few levels deep)."""
    queries: dict[str, str] = {}
    for file in sorted(SQL_DIR.glob("*.sql")):
        text = file.read_text(encoding="utf-8")
        parts = _NAME_RE.split(text)
        for name, body in zip(parts[1::2], parts[2::2]):
            if name in queries:
                raise WarehouseError(f"Query {name!r} is defined twice (second in {file.name}).")
            queries[name] = body.strip().rstrip(";")

    def fragment(match: re.Match) -> str:
        if match.group(1) not in queries:
            raise WarehouseError(f"No query block named {match.group(1)!r} to include")
        return queries[match.group(1)]

    for _ in range(3):
        queries = {name: _INCLUDE_RE.sub(fragment, body) for name, body in queries.items()}
    unresolved = [name for name, body in queries.items() if _INCLUDE_RE.search(body)]
    if unresolved:
        raise WarehouseError(f"Query {unresolved[0]!r} includes fragments more than 3 levels deep")
    return queries


def _opened(open_connection: Callable[[], T]) -> T:
    """A new connection, with a failure to open it told in the warehouse's terms."""
    try:
        return open_connection()
    except WarehouseError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _translate(exc) from exc


def query(name: str) -> str:
    """The SQL text of a named query."""
    try:
        return _queries()[name]
    except KeyError:
        raise WarehouseError(f"No query named {name!r} in lib/core/sql/*.sql") from None


class RawSQL(str):
    """SQL text that is not a named query: made only by raw_sql(), so every place that runs
    SQL built in Python (segment compiler, rule SQL, test factories) is found by one grep."""


def raw_sql(sql: str) -> RawSQL:
    """Mark reviewed SQL text to run as is (with bound :params). Identifiers in it must come
    from code or whitelists, never from user input; values always go in as parameters."""
    return RawSQL(sql)


_inline_sql = False


def allow_inline_sql(allowed: bool = True) -> None:
    """Tests and benchmarks only: let plain SQL text run where a query name is expected (their
    setup and checks read tables directly). The app and the jobs never call this."""
    global _inline_sql
    _inline_sql = allowed


_LIB_DIR = Path(__file__).resolve().parent.parent


def _called_from_lib() -> bool:
    """Is the first caller outside this module a lib/ module? Inline SQL allowed for tests
    must still fail there, as it does in the app (a schema_versions() that passed every test
    broke the Backups page)."""
    frame = sys._getframe(1)
    here = __file__
    while frame is not None and frame.f_code.co_filename == here:
        frame = frame.f_back
    return frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(_LIB_DIR)


def _statement(name_or_sql: str) -> sa.TextClause:
    if isinstance(name_or_sql, RawSQL) or (
        _inline_sql and any(c.isspace() for c in name_or_sql) and not _called_from_lib()
    ):
        return sa.text(str(name_or_sql))
    return sa.text(query(name_or_sql))


# ---------------------------------------------------------------- reads


def read(name: str, **params: Any) -> pd.DataFrame:
    """Run a named query and return a (small) DataFrame. Aggregate in SQL, not in pandas."""
    columns, rows = _fetch(name, params)
    return pd.DataFrame(rows, columns=columns)


def one(name: str, **params: Any) -> dict | None:
    """First row of a named query as a dict, or None."""
    columns, rows = _fetch(name, params)
    return dict(zip(columns, rows[0])) if rows else None


def records(name: str, **params: Any) -> list[dict]:
    """Every row of a named query as dicts (small results that are not shown as a table)."""
    columns, rows = _fetch(name, params)
    return [dict(zip(columns, row)) for row in rows]


def scalar(name: str, **params: Any) -> Any:
    columns, rows = _fetch(name, params)
    return rows[0][0] if rows else None


@functools.lru_cache(maxsize=1024)
def _compiled(name_or_sql: str) -> tuple[str, tuple[str, ...]]:
    """A named query compiled once for DuckDB's positional parameters: (SQL, parameter names)."""
    compiled = _statement(name_or_sql).compile(dialect=engine().dialect)
    return compiled.string, tuple(compiled.positiontup or ())


_reading = threading.local()  # the connection of the snapshot() block running in this thread


@contextmanager
def snapshot() -> Iterator[None]:
    """Run the reads inside the block on one connection, in one read-only transaction.

    They all see the same state of the warehouse (a page's figures cannot disagree because a
    load committed between two of its queries), and on a lake DuckLake looks the snapshot and
    each table's data files up once for the block instead of once per query. Nested blocks
    share the outer one; writes (transaction()) use their own connections as always.
    """
    if getattr(_reading, "conn", None) is not None:
        yield
        return
    conn = _opened(lambda: _checkout(lambda e: e.raw_connection()))
    try:
        conn.cursor().execute("BEGIN TRANSACTION")
        _reading.conn = conn
        yield
    finally:
        _reading.conn = None
        try:
            conn.cursor().execute("ROLLBACK")
        finally:
            conn.close()


def _fetch(name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    """Run a read on a pooled connection's DBAPI cursor.

    Reads skip SQLAlchemy's per-statement work (compiling the text clause, an implicit BEGIN
    and ROLLBACK): ~1 ms per query, which was a third of the Customer 360 page's time. DuckDB
    runs each statement in its own transaction, so a read still sees one consistent snapshot.
    """
    if _inline_sql and not isinstance(name, RawSQL) and any(c.isspace() for c in name) and _called_from_lib():
        query(name)  # refused as in the app (the compiled cache is shared)
    sql, names = _compiled(name)
    missing = [n for n in names if n not in params]
    if missing:
        raise WarehouseError(f"Query {name!r} needs the parameter(s) {', '.join(missing)}")
    shared = getattr(_reading, "conn", None)
    conn = shared or _opened(lambda: _checkout(lambda e: e.raw_connection()))
    try:
        cursor = conn.cursor()
        cursor.execute(sql, [params[n] for n in names])
        description = cursor.description
        rows = cursor.fetchall()
    finally:
        if shared is None:
            conn.close()
    json_columns = [i for i, d in enumerate(description) if str(d[1]) == "JSON"]
    if json_columns:  # JSON values come back parsed, as through SQLAlchemy's JSON type
        rows = [
            tuple(json.loads(v) if i in json_columns and isinstance(v, str) else v for i, v in enumerate(row))
            for row in rows
        ]
    return [d[0] for d in description], rows


@contextmanager
def connect() -> Iterator[Connection]:
    conn = _opened(lambda: _checkout(lambda e: e.connect()))
    try:
        yield conn
    finally:
        conn.close()


def arrow(name: str) -> Any:
    """A named query (without parameters) as a pyarrow Table, fetched column-wise by DuckDB
    itself: bulk copies of the warehouse into a scratch database (matching)."""
    with connect() as conn:
        return conn.connection.driver_connection.execute(query(name)).to_arrow_table()


# DuckDB settings for every connection we open: never download extensions (locked-down servers)
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def scratch() -> Any:
    """A private in-memory DuckDB (work space for matching), configured like the warehouse."""
    import duckdb

    return duckdb.connect(config=dict(DUCKDB_CONFIG))


@contextmanager
def open_file(
    path: Path, read_only: bool = True, error: Callable[[Exception], Exception] | None = None
) -> Iterator[Any]:
    """A DuckDB connection to a database FILE that is not the live warehouse (a backup
    snapshot, a restore's staging copy), closed at the end of the block. A file that cannot
    be opened raises `error(exc)` (default: WarehouseError)."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only, config=dict(DUCKDB_CONFIG))
    except duckdb.Error as exc:
        raise (error(exc) if error else WarehouseError(f"{path} cannot be opened: {exc}")) from exc
    try:
        yield con
    finally:
        con.close()


# ---------------------------------------------------------------- writes


class Tx:
    """A transaction: run named queries or SQL with bound parameters."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback()` once this transaction has committed (never after a rollback), on a
        fresh connection: for reactions that must see the committed rows (audit subscribers)."""
        self._after_commit.append(callback)

    def run(self, name: str, **params: Any) -> int:
        """Execute a named query or statement; returns the affected row count when known."""
        return self.conn.execute(_statement(name), params).rowcount

    def many(self, name: str, rows: list[dict]) -> None:
        """Execute one statement for many parameter sets (executemany)."""
        if rows:
            self.conn.execute(_statement(name), rows)

    def one(self, name: str, **params: Any) -> dict | None:
        row = self.conn.execute(_statement(name), params).mappings().first()
        return dict(row) if row is not None else None

    def scalar(self, name: str, **params: Any) -> Any:
        return self.conn.execute(_statement(name), params).scalar()

    def df(self, name: str, **params: Any) -> pd.DataFrame:
        result = self.conn.execute(_statement(name), params)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def register(self, view_name: str, frame: pd.DataFrame) -> None:
        """Expose a DataFrame to SQL in this transaction (bulk loads without row loops)."""
        self.conn.connection.driver_connection.register(view_name, frame)

    def unregister(self, view_name: str) -> None:
        self.conn.connection.driver_connection.unregister(view_name)

    def fast_df(self, name_or_sql: str, **params: Any) -> pd.DataFrame:
        """Like df(), fetched column-wise by DuckDB itself (large results: ~15x faster than rows)."""
        self.conn.execute(_statement(name_or_sql), params)
        return self.conn.connection.driver_connection.fetch_df()

    def script(self, sql: str) -> None:
        """Run a trusted multi-statement script (migrations only; no parameters)."""
        self.conn.exec_driver_sql(sql)


@contextmanager
def transaction(*, bookkeeping: bool = False) -> Iterator[Tx]:
    """One atomic unit of work: commits on success, rolls back on any exception.

    `bookkeeping=True` marks a transaction that writes only the record of who did what: audit
    rows, login sessions and throttles, activity stamps, job leases and run records. Those do
    not move data_version(), so twenty people browsing (each view audited, each minute
    stamped) and a scheduled job with nothing to do do not throw away the cached figures of
    every page for everybody; no cached page read shows these tables."""
    global _writes
    with connect() as conn:
        trans = conn.begin()
        tx = Tx(conn)
        try:
            yield tx
        except BaseException:
            trans.rollback()
            raise
        else:
            try:
                trans.commit()
            except Exception as exc:  # commit-time conflicts surface here
                raise _translate(exc) from exc
            finally:
                if not bookkeeping:
                    with _writes_lock:
                        _writes += 1
    for callback in tx._after_commit:  # committed, and the connection is back in the pool
        callback()


# ---------------------------------------------------------------- data version (cache key)

_writes = 0  # data transactions this process committed (or tried to)
_writes_lock = threading.Lock()
_opened_stamps: dict[str, str] = {}  # file mode: the file's stamp when this process opened it


def _file_stamp(path: Path) -> str:
    parts = []
    for f in (path, path.with_name(path.name + ".wal")):
        try:
            st = f.stat()
            parts.append(f"{st.st_mtime_ns}.{st.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return "/".join(parts)


def data_version() -> str:
    """Changes whenever the warehouse's data may have changed: a key for caches of reads.

    Every data write goes through transaction(), which bumps this process's counter
    (bookkeeping transactions do not). A DuckDB file is held open, and locked, by one process
    at a time: what another process wrote (a `python -m lib.cli import` job while the app was
    stopped) shows in the file's and its write-ahead log's size and modification time when this
    process opens it, so that stamp is taken then (the engine's creation), not on every call:
    this process's own bookkeeping writes change the file too. A DuckLake is written by
    several processes at once: there the version is its catalog's current snapshot id.
    """
    loc = current_location()
    if loc.kind == "lake":
        stamp = str(scalar("lake_data_version"))
    elif loc.path is not None:
        engine()  # (re)opened after a dispose: the stamp of the file as found then
        stamp = _opened_stamps.get(loc.url, "-")
    else:
        stamp = "memory"
    return f"{loc.url}|{_writes}|{stamp}"


def retrying(fn: Callable[..., T] | None = None, *, attempts: int = 6) -> Callable[..., T]:
    """Re-run a whole write function when DuckDB (or DuckLake) reports a write conflict.

    Decorate functions that open their own ``transaction()``: a conflict rolls the whole
    transaction back, so running it again from the start is safe.
    """

    def wrap(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> T:
            for attempt in range(attempts):
                try:
                    return func(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    if not is_conflict(exc):
                        raise
                    if attempt == attempts - 1:
                        raise WriteConflictError("Another user kept changing the same rows; please try again.") from exc
                    time.sleep(0.01 * 2**attempt)
            raise AssertionError("unreachable")

        return inner

    return wrap(fn) if fn is not None else wrap


# ---------------------------------------------------------------- migrations


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def migrate() -> list[str]:
    """Apply every migration not yet recorded in schema_version, in order. Idempotent."""
    applied_now: list[str] = []
    with transaction() as tx:
        tx.script(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        done = {r for r in tx.df(raw_sql("SELECT version FROM schema_version"))["version"].tolist()}
    for file in migration_files():
        version = int(file.name[:4])
        if version in done:
            continue
        with transaction() as tx:
            tx.script(file.read_text(encoding="utf-8"))
            tx.run(raw_sql("INSERT INTO schema_version (version, name) VALUES (:v, :n)"), v=version, n=file.stem)
        applied_now.append(file.stem)
    return applied_now


def schema_versions() -> list[int]:
    return read("schema_versions")["version"].tolist()


def checkpoint() -> None:
    """Flush the write-ahead log into the file (before copying it for a backup)."""
    with connect() as conn:
        conn.exec_driver_sql("CHECKPOINT")
