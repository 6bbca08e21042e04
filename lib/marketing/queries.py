"""Helpers shared by the marketing modules (rfm, lifecycle, segments, audience, churn, clv).

* ``compose``: named queries may embed other named queries as ``{name}`` (a CTE reused by
  several reports); only names of queries from lib/core/sql are spliced, never user input.
* ``fast_frame``: large result sets (features of a million customers) come back through
  DuckDB's columnar fetch instead of SQLAlchemy's row tuples, about 15x faster.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from lib.core import warehouse

_SPLICE_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def compose(name: str, extra: dict[str, str] | None = None) -> str:
    """The SQL of a named query with ``{other_query}`` markers replaced by that query's SQL.

    ``extra`` supplies fragments built by code from whitelists (the segment filter)."""
    extra = extra or {}

    def splice(match: re.Match) -> str:
        key = match.group(1)
        if key in extra:
            return extra[key]
        return compose(key, extra)

    return warehouse.raw_sql(_SPLICE_RE.sub(splice, warehouse.query(name)))


def fast_frame(tx: warehouse.Tx, sql: str, **params: Any) -> pd.DataFrame:
    """Run SQL with bound parameters in the transaction and fetch the result column-wise.

    duckdb-engine executes on the DuckDB connection itself, so its pending result can be
    fetched as a DataFrame directly (no per-row Python tuples)."""
    return tx.fast_df(warehouse.raw_sql(sql), **params)


def top_rows(query: str, limit: int, **params: Any) -> pd.DataFrame:
    """The first `limit` rows of a top-N query that ranks :candidates score rows before joining
    them to customers: twice the limit first, every score row when merged or deleted customers
    among those candidates left fewer than `limit` (exact either way)."""
    limit = int(limit)
    rows = warehouse.read(query, limit=limit, candidates=2 * limit, **params)
    if len(rows) < limit:
        rows = warehouse.read(query, limit=limit, candidates=None, **params)
    return rows


def cutoff(as_of: date) -> datetime:
    """First instant after the as-of day: analytics use data strictly before it."""
    return datetime.combine(as_of + timedelta(days=1), datetime.min.time())


def write_export(user, query: str, path, action: str, entity: str) -> int:
    """Write a named query's rows to a file (CSV, or Excel for .xlsx; formula-safe, created
    0600) and audit it as `action`. The caller has checked the user's right to export."""
    from lib.security import audit, exports

    with warehouse.transaction() as tx:
        frame = fast_frame(tx, warehouse.query(query))
    written = exports.write_file(frame, path)
    audit.record(
        None,
        user,
        action,
        entity,
        None,
        detail={"rows": len(frame), "columns": [str(c) for c in frame.columns], "file": str(written)},
    )
    return len(frame)
