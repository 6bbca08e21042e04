"""The allowed imports between the areas of lib/ (docs/architecture.md), checked on the source.

    ui (app.py, pages/, lib/ui*)  ->  areas (dashboards, stewardship, marketing, admin)
                                  ->  security  ->  core

Areas do not import each other: one reacts to another's writes through core.hooks. Jobs
(lib/commands, lib/cli) use the areas but never the UI; only the UI imports Streamlit; chart
builders get frames and never touch storage; no module imports itself back through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

AREAS = ("dashboards", "stewardship", "marketing", "admin")
# area -> the areas its modules may import (besides themselves)
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "security": {"core"},
    **{area: {"core", "security"} for area in AREAS},
    "demo": {"core", "security"},  # a tool that writes the warehouse
    "commands": {"core", "security", "demo", *AREAS},  # jobs: everything but the UI
    "cli": {"commands", "core"},
    "ui": {"core", "security", *AREAS},
}
STORAGE = ("lib.core.warehouse", "lib.core.lake", "duckdb", "sqlalchemy", "duckdb_engine")


def area_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "lib" or len(parts) == 1:
        return "?"
    return parts[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


_FILES = {
    str(p.relative_to(Path(__file__).resolve().parents[2]).with_suffix(""))
    for p in (Path(__file__).resolve().parents[2] / "lib").rglob("*.py")
}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every module a file imports (`from a import b` counts as a and a.b)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names}
            found.update(submodules)
            # `from a import b` where b is a module of package a needs only a.b
            if not all(m.replace(".", "/") in _FILES for m in submodules):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


LIB = sorted(p for p in (ROOT / "lib").rglob("*.py") if p != ROOT / "lib" / "__init__.py")
MODULES = {module_name(p): p for p in LIB}  # (the bare `lib` package holds nothing)


def lib_imports(path: Path, top_level_only: bool = False) -> set[str]:
    return {m for m in imports(path, top_level_only) if m in MODULES}


@pytest.mark.parametrize("path", LIB, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_module_imports_only_the_areas_below_it(path):
    own = area_of(module_name(path))
    assert own in ALLOWED, f"{path}: lib/ modules live in an area package ({', '.join(ALLOWED)})"
    wrong = sorted(m for m in lib_imports(path) if area_of(m) != own and area_of(m) not in ALLOWED[own])
    assert wrong == [], f"{module_name(path)} ({own}) may import {sorted(ALLOWED[own])} only"


def test_only_the_ui_imports_streamlit():
    users = sorted(
        module_name(p) for p in LIB if any(m == "streamlit" or m.startswith("streamlit.") for m in imports(p))
    )
    assert [m for m in users if area_of(m) != "ui"] == []
    assert "lib.ui.errors" in users and "lib.ui.session" in users


def test_chart_builders_never_touch_storage():
    charts = [p for p in LIB if p.stem == "charts"]
    assert len(charts) == 2
    for path in charts:
        assert sorted(m for m in imports(path) if m.startswith(STORAGE)) == [], path


def test_jobs_never_import_the_ui():
    jobs = [p for p in LIB if area_of(module_name(p)) in ("commands", "cli")]
    for path in jobs:
        assert sorted(m for m in imports(path) if m.startswith(("streamlit", "lib.ui"))) == [], path
    for path in sorted((ROOT / "bench").glob("*.py")):  # benchmarks time lib/, not the UI kit
        assert sorted(m for m in imports(path) if m.startswith("lib.ui")) == [], path


def test_no_import_cycles():
    graph = {m: {i for i in lib_imports(p, top_level_only=True) if i != m} for m, p in MODULES.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_optional_imports_of_our_own_modules():
    """`try: from lib import x / except ImportError` hides a broken module as a missing one."""
    offenders = []
    for path in LIB + sorted((ROOT / "tests").rglob("*.py")) + sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            ):
                if any(m.startswith("lib") for stmt in node.body for m in _stmt_imports(stmt)):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "pytest.importorskip"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("lib")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _stmt_imports(stmt) -> set[str]:
    if isinstance(stmt, ast.ImportFrom) and stmt.module:
        return {stmt.module}
    if isinstance(stmt, ast.Import):
        return {a.name for a in stmt.names}
    return set()
