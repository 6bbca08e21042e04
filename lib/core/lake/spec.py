"""The lake's names, its spec (catalog + data path), errors and the DuckDB extensions it needs."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from lib.core import config
from lib.core.errors import WarehouseError

ALIAS = "lake"  # the attached lake's name inside each process
SEQUENCE_DB = "c360_lake_catalog"  # the catalog database attached as plain PostgreSQL
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
    spec: str  # the full "ducklake:postgres:..." string given to ATTACH
    conninfo: str  # libpq connection string of the catalog database
    data_path: str | None

    def describe(self) -> str:
        return self.spec


def parse_spec(spec: str, data_path: str | None = None) -> LakeSpec:
    """``ducklake:postgres:<libpq conninfo>`` plus the data path (argument, else C360_LAKE_DATA)."""
    spec = spec.strip()
    prefix = "ducklake:postgres:"
    if not spec.startswith(prefix):
        raise LakeError(
            f"Unsupported lake spec {spec!r}: use ducklake:postgres:dbname=... host=... "
            "(a PostgreSQL catalog is what lets several processes share the lake)."
        )
    conninfo = spec[len(prefix) :].strip()
    if "password=" in conninfo:
        raise LakeError(
            "Do not put the PostgreSQL password in the lake spec (it is logged): use PGPASSWORD or ~/.pgpass."
        )
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
    return {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": str(extension_directory()),
    }


@functools.lru_cache(maxsize=1)
def install_extensions() -> Path:
    """Copy the wheels' extension files to where DuckDB's LOAD looks for them (idempotent)."""
    version = "v" + duckdb.__version__
    with duckdb.connect(
        ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    ) as con:
        platform = con.execute("PRAGMA platform").fetchone()[0]
    target_dir = extension_directory() / version / platform
    for name, (package, stem) in EXTENSION_WHEELS.items():
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise LakeError(
                f"The DuckDB extension wheel {package} is not installed: "
                f"pip install {package.replace('_', '-')}=={duckdb.__version__}"
            )
        source = Path(list(found.submodule_search_locations)[0]) / "extensions" / version / f"{stem}.duckdb_extension"
        if not source.exists():
            raise LakeError(
                f"{source} is missing: the {package} wheel does not match "
                f"duckdb {duckdb.__version__}; install the same version of both."
            )
        target = target_dir / f"{name}.duckdb_extension"
        if target.exists() and target.stat().st_size == source.stat().st_size:
            continue
        target_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: a process starting meanwhile never sees half a file
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


def _quote(*parts: str) -> str:
    return ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in parts)
