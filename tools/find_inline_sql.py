"""List calls that pass SQL text (not a query name) to the warehouse without raw_sql().

    python tools/find_inline_sql.py [paths...]      # default: lib pages app.py

Since plain text is no longer run as SQL (lib/core/warehouse.py `_statement`), such a call
fails with "No query named 'SELECT ...'": make it a named query in lib/core/sql/, or wrap
reviewed SQL in warehouse.raw_sql(). Variables holding query names are listed too (check them).
Exit status 1 when something is listed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = {"run", "many", "one", "scalar", "df", "fast_df", "read", "records"}


def findings(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in METHODS
                and node.args
            ):
                continue
            base = ast.unparse(node.func.value)
            if base not in ("tx", "warehouse") and not base.endswith("tx"):
                continue
            arg = node.args[0]
            if (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and not any(c.isspace() for c in arg.value.strip())
            ):
                continue  # a query name
            if isinstance(arg, ast.Call) and ast.unparse(arg.func).endswith(("raw_sql", "compose")):
                continue
            out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {base}.{node.func.attr}({ast.unparse(arg)[:60]})")
    return out


def main(argv: list[str]) -> int:
    roots = [ROOT / a for a in argv] or [ROOT / "lib", ROOT / "pages", ROOT / "app.py"]
    paths = sorted(p for r in roots for p in ([r] if r.is_file() else r.rglob("*.py")))
    found = findings(paths)
    print("\n".join(found) or "no inline SQL")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
