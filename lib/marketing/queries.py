"""Helpers shared by the marketing modules (rfm, lifecycle, segments, audience, churn, clv).

* ``compose``: named queries may embed other named queries as ``{name}`` (a CTE reused by
  several reports); only names of queries from lib/core/sql are spliced, never user input.
  A spliced query with optional parts (``{segment_base}``) comes without the parts (joins and
  their columns) the query never uses.
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
# A query's optional parts (segment_base, lib/core/sql/marketing_segments.sql): /*part NAME: the
# columns it adds*/ ... /*end*/ in the select list, /*part NAME*/ ... /*end*/ around its join
_PART_RE = re.compile(r"/\*part (\w+)(?:: ([\w ]+))?\*/(.*?)/\*end\*/", re.S)
_EVERY_COLUMN_RE = re.compile(r"SELECT\s+\*|\w\.\*", re.I)


def compose(name: str, extra: dict[str, str] | None = None) -> str:
    """The SQL of a named query with ``{other_query}`` markers replaced by that query's SQL.

    ``extra`` supplies fragments built by code from whitelists (the segment filter). A spliced
    query with optional parts (segment_base) comes without those the rest of this query never
    names."""
    extra = extra or {}
    text = warehouse.query(name)
    keys = set(_SPLICE_RE.findall(text))
    pieces = {key: extra[key] if key in extra else compose(key, extra) for key in keys}
    optional = {key for key in keys if key not in extra and _PART_RE.search(pieces[key])}
    if optional:
        rest = _SPLICE_RE.sub(lambda m: "" if m.group(1) in optional else pieces[m.group(1)], text)
        pieces.update({key: used_parts_only(pieces[key], rest) for key in optional})
    return warehouse.raw_sql(_SPLICE_RE.sub(lambda m: pieces[m.group(1)], text))


def used_parts_only(base: str, rest: str) -> str:
    """`base` without the parts none of whose columns the rest of the query names (a part's
    join matches at most one row per customer, so leaving an unused one out changes nothing
    but the time). A query that selects every column keeps every part."""
    if _EVERY_COLUMN_RE.search(rest):
        return base
    named = set(re.findall(r"\w+", rest))
    return without_parts(base, {name for name, cols in base_parts(base).items() if not cols & named})


def base_parts(base: str) -> dict[str, set[str]]:
    """A query's optional parts and the columns each adds."""
    columns: dict[str, set[str]] = {}
    for part in _PART_RE.finditer(base):
        if part.group(2):
            columns.setdefault(part.group(1), set()).update(part.group(2).split())
    return columns


def without_parts(base: str, parts: set[str]) -> str:
    """`base` with `parts` (their joins and columns) left out."""
    return _PART_RE.sub(lambda part: "" if part.group(1) in parts else part.group(3), base)


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
