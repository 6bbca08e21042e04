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

from lib.core.lake.engine import (  # noqa: F401
    Lake,
    create_engine,
    prime_empty_tables,
)
from lib.core.lake.maintenance import (  # noqa: F401
    checkpoint,
    cleanup,
    compact,
    constraint_violations,
    expire,
    info,
    maintenance_connection,
)
from lib.core.lake.moves import (  # noqa: F401
    ROW_GROUP_ROWS,
    SORTED_BY,
    SOURCE_DB,
    MoveResult,
    TableCheck,
    apply_table_options,
    migrate_file_to_lake,
    migrate_lake_to_file,
)
from lib.core.lake.sequences import (  # noqa: F401
    Sequences,
)
from lib.core.lake.spec import (  # noqa: F401
    ALIAS,
    CONSTRAINTS_TABLE,
    EXTENSION_WHEELS,
    PG_SEQUENCE_PREFIX,
    RETURNING_TABLE,
    SEQUENCE_DB,
    LakeError,
    LakeSpec,
    duckdb_config,
    extension_directory,
    install_extensions,
    parse_spec,
)
from lib.core.lake.translate import (  # noqa: F401
    Constraint,
    Plan,
    ReturningInsert,
    SequenceOp,
    Translator,
)
