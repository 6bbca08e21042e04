"""SQL translation: statements DuckLake cannot run (constraints, sequences, ON CONFLICT, RETURNING) rewritten into ones it can."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from lib.core.lake.spec import CONSTRAINTS_TABLE, RETURNING_TABLE, LakeError


# ---------------------------------------------------------------- SQL translation

_TRIGGER = re.compile(
    r"\b(PRIMARY\s+KEY|UNIQUE|REFERENCES|FOREIGN\s+KEY|SEQUENCE|ON\s+CONFLICT"
    r"|INSERT\s+OR\s+(REPLACE|IGNORE)|RETURNING|(CREATE|DROP)\s+(UNIQUE\s+)?INDEX)\b"
    r"|\bCHECK\s*\(",
    re.I,
)


@dataclass(frozen=True)
class SequenceOp:
    action: str  # "create" or "drop"
    name: str
    start: int = 1
    if_not_exists: bool = False
    replace: bool = False
    if_exists: bool = False


@dataclass(frozen=True)
class ReturningInsert:
    """INSERT ... RETURNING split into: compute rows, insert them, read RETURNING back."""

    compute_sql: str  # CREATE OR REPLACE TEMP TABLE c360_returning AS SELECT ...
    insert_sql: str  # INSERT INTO target (...) SELECT ... FROM c360_returning
    result_sql: str  # SELECT <returning> FROM c360_returning AS <target>


@dataclass(frozen=True)
class Plan:
    sql: str | None  # what DuckDB runs (None: nothing left)
    sequence_ops: tuple[SequenceOp, ...] = ()
    returning: ReturningInsert | None = None


@dataclass
class Constraint:
    kind: str  # primary_key, unique, check
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
    if not_null and not any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) for c in kept):
        kept.insert(0, exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))
    if changed:
        coldef.set("constraints", kept)
    return changed


def _table_constraint(node: exp.Expression, found: list[Constraint]) -> bool:
    """Record a table-level constraint; True if the node is one (and must be removed)."""
    if isinstance(node, exp.Constraint):  # CONSTRAINT name <kind>
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
    out = [
        "CREATE TABLE IF NOT EXISTS " + CONSTRAINTS_TABLE + " (table_name VARCHAR NOT NULL,"
        " kind VARCHAR NOT NULL, columns VARCHAR[] NOT NULL, expression VARCHAR)"
    ]
    if replace:
        out.append(
            exp.delete(CONSTRAINTS_TABLE, where=exp.column("table_name").eq(exp.Literal.string(table))).sql("duckdb")
        )
    for c in found:
        row = exp.Tuple(
            expressions=[
                exp.Literal.string(table),
                exp.Literal.string(c.kind),
                exp.Array(expressions=[exp.Literal.string(col) for col in c.columns])
                if c.columns
                else exp.cast(exp.Array(expressions=[]), "VARCHAR[]"),
                exp.Literal.string(c.expression) if c.expression else exp.null(),
            ]
        )
        out.append(exp.insert(exp.Values(expressions=[row]), CONSTRAINTS_TABLE).sql("duckdb"))
    return out


class Translator:
    """Rewrites statements that DuckLake cannot run into ones it can (see module docstring)."""

    def __init__(self, lake: Any):  # the engine.Lake that owns this translator
        self.lake = lake

    @functools.lru_cache(maxsize=2048)
    def plan(self, sql: str) -> Plan:
        if not _TRIGGER.search(sql):
            return Plan(sql)
        try:
            statements = [s.query for s in duckdb.extract_statements(sql)]
        except duckdb.Error:
            return Plan(sql)  # let DuckDB report the syntax error itself
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
        return Plan(";\n".join(s.strip().rstrip(";") for s in out) if out else None, tuple(ops), returning)

    # -- per statement: None = unchanged, else (statements, sequence ops, returning)

    def _rewrite(self, tree: exp.Expression):
        if isinstance(tree, exp.Create):
            kind = (tree.args.get("kind") or "").upper()
            if kind == "SEQUENCE":
                props = tree.args.get("properties")
                start = 1
                for p in props.expressions if props else []:
                    if isinstance(p, exp.SequenceProperties) and p.args.get("start") is not None:
                        start = int(p.args["start"].this)
                return (
                    [],
                    [
                        SequenceOp(
                            "create",
                            tree.this.name,
                            start,
                            if_not_exists=bool(tree.args.get("exists")),
                            replace=bool(tree.args.get("replace")),
                        )
                    ],
                    None,
                )
            if kind == "INDEX":
                index = tree.this
                if tree.args.get("unique"):
                    cols = _column_names(index.args["params"].args.get("columns"))
                    return _record_sql(index.args["table"].name, [Constraint("unique", cols)], False), [], None
                return [], [], None
            if kind == "TABLE" and isinstance(tree.this, exp.Schema):
                return self._create_table(tree)
            return None
        if isinstance(tree, exp.Drop):
            kind = (tree.args.get("kind") or "").upper()
            if kind == "SEQUENCE":
                return (
                    [],
                    [
                        SequenceOp("drop", t.name, if_exists=bool(tree.args.get("exists")))
                        for t in tree.args.get("tables") or [tree.this]
                    ],
                    None,
                )
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
            if (
                isinstance(node, exp.ColumnDef)
                and node.name in pk_cols
                and not any(
                    isinstance(c.args.get("kind"), exp.NotNullColumnConstraint)
                    for c in node.args.get("constraints") or []
                )
            ):
                node.set(
                    "constraints",
                    [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
                    + list(node.args.get("constraints") or []),
                )
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
                raise LakeError(
                    f"No primary key or unique constraint is recorded for {table}; "
                    "name the conflict columns: ON CONFLICT (col, ...)"
                )
        target = exp.to_identifier(table).sql("duckdb")
        on = " OR ".join(
            "("
            + " AND ".join(
                target + "." + exp.to_identifier(k).sql("duckdb") + " = excluded." + exp.to_identifier(k).sql("duckdb")
                for k in key
            )
            + ")"
            for key in keys
        )
        updates: list[str] = []
        condition = None
        if conflict is not None and "UPDATE" in str(conflict.args.get("action") or "").upper():
            for assignment in conflict.expressions:
                rhs = assignment.expression.transform(
                    lambda n: exp.column(n.name, table=table) if isinstance(n, exp.Column) and not n.table else n
                )
                updates.append(assignment.this.sql("duckdb") + " = " + rhs.sql("duckdb"))
            where = conflict.args.get("where")
            if where is not None:
                condition = where.this.transform(
                    lambda n: exp.column(n.name, table=table) if isinstance(n, exp.Column) and not n.table else n
                ).sql("duckdb")
        elif alternative == "REPLACE":
            key_cols = {k for key in keys for k in key}
            updates = [
                exp.to_identifier(c).sql("duckdb") + " = excluded." + exp.to_identifier(c).sql("duckdb")
                for c in cols
                if c not in key_cols
            ]
        quoted = [exp.to_identifier(c).sql("duckdb") for c in cols]
        source = tree.expression.sql("duckdb")
        parts = ["MERGE INTO", target, "USING (" + source + ") AS excluded(" + ", ".join(quoted) + ")", "ON", on]
        if updates:
            parts += [
                "WHEN MATCHED" + (" AND (" + condition + ")" if condition else ""),
                "THEN UPDATE SET",
                ", ".join(updates),
            ]
        parts += [
            "WHEN NOT MATCHED THEN",
            "INSERT (" + ", ".join(quoted) + ")",
            "VALUES (" + ", ".join("excluded." + q for q in quoted) + ")",
        ]
        return " ".join(parts)

    def _returning(self, tree: exp.Insert):
        table, cols = self._target(tree)
        columns = self.lake.columns(table)
        if not columns:
            return None  # a temporary table: DuckDB itself supports RETURNING
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
        compute = " ".join(
            [
                "CREATE OR REPLACE TEMP TABLE",
                RETURNING_TABLE,
                "AS",
                "SELECT",
                ", ".join(select),
                "FROM (" + tree.expression.sql("duckdb") + ") AS",
                source_alias,
                "(" + ", ".join(quoted_given) + ")",
            ]
        )
        all_cols = ", ".join(exp.to_identifier(c).sql("duckdb") for c, _, _ in columns)
        target = exp.to_identifier(table).sql("duckdb")
        insert = " ".join(
            ["INSERT INTO", target, "(" + all_cols + ")", "SELECT", all_cols, "FROM temp.main." + RETURNING_TABLE]
        )
        result = " ".join(
            [
                "SELECT",
                ", ".join(e.sql("duckdb") for e in tree.args["returning"].expressions),
                "FROM temp.main." + RETURNING_TABLE,
                "AS",
                target,
            ]
        )
        return [], [], ReturningInsert(compute, insert, result)
