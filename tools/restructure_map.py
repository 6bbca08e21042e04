"""lib/ by area: the module map (old -> new) and an idempotent mover + import rewriter.

    python tools/restructure_map.py            # git mv what is still at its old place, then rewrite
    python tools/restructure_map.py --rewrite  # only rewrite imports/strings (after a merge)
    python tools/restructure_map.py --check    # list leftover references to old module names

The rewrite covers Python files (import lines, "lib.x" strings such as monkeypatch targets and
`python -m lib.x`, `lib/x.py` paths in comments), Makefile, *.md, *.ini, *.toml and .ci/.
It is idempotent: running it twice changes nothing the second time, so it can be re-run over
files other branches add after a merge. A module renamed on the way (customer_edits -> edits)
is also renamed where a file uses it (`customer_edits.get` -> `edits.get`), unless the new name
is already taken in that file; then the import keeps the old name with `as`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# old dotted module (under lib.) -> new dotted module (under lib.)
MOVES: dict[str, str] = {
    # core: storage, configuration, field rules shared by every area, worker processes
    "warehouse": "core.warehouse",
    "lake": "core.lake",
    "config": "core.config",
    "settings": "core.settings",
    "validation": "core.validation",
    "normalize": "core.normalize",
    "parallel": "core.parallel",
    "i18n": "core.i18n",
    # security: roles and the permission check, page access, the audit writer, privacy primitives
    "auth": "security.auth",
    "navigation": "security.navigation",
    "audit": "security.audit",
    "privacy": "security.privacy",
    # (added on other branches while lib/ was flat; moved when the script is re-run after merging)
    "sessions": "security.sessions",
    "passwords": "security.passwords",
    "exports": "security.exports",
    # dashboards
    "metrics": "dashboards.metrics",
    "aggregates": "dashboards.aggregates",
    "customers": "dashboards.customers",
    "charts": "dashboards.charts",
    "filters": "dashboards.filters",
    # stewardship
    "importer": "stewardship.importer",
    "quality": "stewardship.quality",
    "review": "stewardship.review",
    "dedup": "stewardship.dedup",
    "customer_edits": "stewardship.edits",
    "stewards_charts": "stewardship.charts",
    "entry_rules": "stewardship.entry_rules",
    "registration": "stewardship.registration",
    "match_model": "stewardship.match_model",
    # marketing
    "marketing": "marketing.queries",
    "rfm": "marketing.rfm",
    "lifecycle": "marketing.lifecycle",
    "segments": "marketing.segments",
    "audience": "marketing.audience",
    "tags": "marketing.tags",
    "churn": "marketing.churn",
    "clv": "marketing.clv",
    # admin
    "users": "admin.users",
    "backup": "admin.backup",
    "audit_trail": "admin.audit_log",
    "backup_crypto": "admin.backup_crypto",
}
PACKAGES = sorted({new.split(".")[0] for new in MOVES.values()})
PACKAGE_DOC = {
    "core": "Storage (the warehouse owns every connection), configuration, settings, field rules.",
    "security": "Roles and require(), page access, the audit writer, privacy primitives.",
    "dashboards": "Metrics, aggregates, customer search and 360, chart builders, filters.",
    "stewardship": "Import, quality rules, the review queue, duplicates, steward edits.",
    "marketing": "RFM, lifecycle, segments, audiences, tags, churn and CLV models.",
    "admin": "Users and roles, backups and restore, the audit log reader, settings writes.",
}
# The demo generator becomes a package in place (lib/demo.py -> lib/demo/__init__.py), so
# `lib.demo` and `python -m lib.demo` keep their names; nothing to rewrite.
FILE_MOVES = {"lib/demo.py": "lib/demo/__init__.py"}
# Named queries, migrations and UI strings belong to core (the warehouse and i18n load them from
# next to themselves). Every file still in an old folder is moved, so files that other branches
# add there are carried over by a re-run.
# Modules split into a package after the move: their path in prose/comments.
SPLIT_INTO_PACKAGES = {"lib/core/lake.py": "lib/core/lake/"}
DIR_MOVES = {"lib/sql": "lib/core/sql", "lib/migrations": "lib/core/migrations", "lib/locale": "lib/core/locale"}

# Error classes renamed when they were rebased on lib/core/errors.py (two were both called
# ConflictError; users.UserError clashed with errors.UserError): (file glob, regex, replacement).
SYMBOL_RENAMES: list[tuple[str, str, str]] = [
    ("lib/admin/users.py", r"(?<![\w.])UserError\b", "AccountError"),
    ("lib/stewardship/edits.py", r"(?<![\w.])ConflictError\b", "StaleRecordError"),
    ("lib/stewardship/dedup.py", r"(?<![\w.])ConflictError\b", "StaleRecordError"),
    ("lib/marketing/segments.py", r"(?<![\w.])ConflictError\b", "StaleSegmentError"),
    ("**/*.py", r"\b(users|accounts)\.UserError\b", r"\1.AccountError"),
    ("**/*.py", r"\b(edits|customer_edits|ce)\.ConflictError\b", r"\1.StaleRecordError"),
    ("**/*.py", r"\bsegments\.ConflictError\b", "segments.StaleSegmentError"),
    (
        "**/*.py",
        r"from lib\.stewardship\.edits import ConflictError\b",
        "from lib.stewardship.edits import StaleRecordError",
    ),
    (
        "**/*.py",
        r"from lib\.marketing\.segments import ConflictError\b",
        "from lib.marketing.segments import StaleSegmentError as ConflictError",
    ),
]
# (class lines keep their new base: `class StaleRecordError(errors.ConflictError, ...)`)

# Functions that moved to another module: (call as written, new call, import the new call needs).
CALL_MOVES: list[tuple[str, str, str]] = [
    ("settings.put_system(", "setting_changes.put_system(", "from lib.admin import setting_changes"),
    ("settings.put(", "setting_changes.put(", "from lib.admin import setting_changes"),
]

TEXT_GLOBS = [
    "lib/**/*.py",
    "pages/*.py",
    "app.py",
    "tests/**/*.py",
    "bench/**/*.py",
    "tools/**/*.py",
    "docs/*.md",
    "README.md",
    "Makefile",
    "pytest.ini",
    "pyproject.toml",
    ".ci/*",
]
SELF = Path(__file__).resolve()
EXCLUDE = {ROOT / "tests" / "unit" / "test_restructure_map.py"}  # holds old-layout samples


def _git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=ROOT, check=True)


def move() -> None:
    for pkg in PACKAGES:
        init = ROOT / "lib" / pkg / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{PACKAGE_DOC.get(pkg, pkg)}"""\n', encoding="utf-8")
            _git("add", str(init.relative_to(ROOT)))
    for old, new in MOVES.items():
        src = ROOT / "lib" / f"{old}.py"
        dst = ROOT / "lib" / (new.replace(".", "/") + ".py")
        if src.exists() and (dst.exists() or dst.with_suffix("").is_dir()):
            # e.g. a merge brought back lib/lake.py, which is now the package lib/core/lake/
            print(
                f"WARNING: {src.relative_to(ROOT)} is back but {new} exists: port its changes by hand, then delete it"
            )
        elif src.exists():
            _git("mv", str(src.relative_to(ROOT)), str(dst.relative_to(ROOT)))
    for old, new in FILE_MOVES.items():
        src, dst = ROOT / old, ROOT / new
        if src.exists() and dst.exists():
            print(f"WARNING: {old} is back but {new} exists: port its changes by hand, then delete it")
        elif src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            _git("mv", old, new)
    for old, new in DIR_MOVES.items():
        src_dir, dst_dir = ROOT / old, ROOT / new
        if not src_dir.is_dir():
            continue
        dst_dir.mkdir(parents=True, exist_ok=True)
        for src in sorted(p for p in src_dir.iterdir() if p.is_file()):
            dst = dst_dir / src.name
            if dst.exists():
                raise SystemExit(f"{src} and {dst} both exist: merge them by hand")
            _git("mv", str(src.relative_to(ROOT)), str(dst.relative_to(ROOT)))
        if not any(src_dir.iterdir()):
            src_dir.rmdir()


def _short(new: str) -> str:
    return new.rsplit(".", 1)[1]


def _package(new: str) -> str:
    return new.rsplit(".", 1)[0]


# `lib.x` in text (strings, docstrings, -m lib.x) -> `lib.<new>`; not inside a longer dotted name
# and, for a module that became a package of the same name (marketing -> marketing.queries),
# not when already followed by one of the new package's modules.
def _dotted_patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for old, new in MOVES.items():
        subs = sorted({_short(n) for n in MOVES.values() if _package(n) == old})
        # (import lines of such a package were handled by rewrite_python already)
        guard = rf"(?!\.(?:{'|'.join(subs)})\b)(?![ \t]+import\b)" if subs else ""
        out.append((re.compile(rf"(?<![\w.])lib\.{old}\b{guard}"), f"lib.{new}"))
        out.append((re.compile(rf"(?<![\w/.])lib/{old}\.py\b"), f"lib/{new.replace('.', '/')}.py"))
    for old, new in DIR_MOVES.items():
        out.append((re.compile(rf"(?<![\w/.]){re.escape(old)}\b"), new))
    # modules that became packages after the move (split into parts)
    for old, new in SPLIT_INTO_PACKAGES.items():
        out.append((re.compile(rf"(?<![\w/.]){re.escape(old)}(?![\w/])"), new))
    return out


DOTTED = _dotted_patterns()
FROM_LIB = re.compile(r"^(?P<indent>[ \t]*)from lib import (?P<names>[\w ,]+?)(?P<tail>[ \t]*(?:#.*)?)$", re.M)
FROM_LIB_MOD = re.compile(r"^(?P<indent>[ \t]*)from lib\.(?P<mod>\w+) import (?P<names>[\w ,]+)", re.M)
STRING_FROM_LIB = re.compile(r"""(?P<q>["'])from lib import (?P<name>\w+)(?=\\n|["'])""")
IMPORT_LIB_MOD = re.compile(r"^(?P<indent>[ \t]*)import lib\.(?P<mod>\w+)(?P<rest>\b(?!\.))", re.M)


def rewrite_python(text: str) -> str:
    renames: dict[str, str] = {}  # usage renames: old bound name -> new bound name

    def taken(name: str) -> bool:
        return re.search(rf"(?<![\w.]){name}\b", text) is not None

    def from_lib(m: re.Match[str]) -> str:
        groups: dict[str, list[str]] = {}
        for part in (p.strip() for p in m["names"].split(",")):
            if not part:
                continue
            name, _, alias = (x.strip() for x in part.partition(" as "))
            if name not in MOVES:
                groups.setdefault("lib", []).append(part)
                continue
            new = MOVES[name]
            short = _short(new)
            if alias:
                item = f"{short} as {alias}"
            elif short != name:
                if taken(short):
                    item = f"{short} as {name}"
                else:
                    item = short
                    renames[name] = short
            else:
                item = short
            groups.setdefault(f"lib.{_package(new)}", []).append(item)
        if list(groups) == ["lib"]:
            return m.group(0)
        lines = [f"{m['indent']}from {pkg} import {', '.join(items)}" for pkg, items in groups.items()]
        lines[0] += m["tail"]
        return "\n".join(lines)

    text = FROM_LIB.sub(from_lib, text)

    def from_lib_mod(m: re.Match[str]) -> str:
        mod = m["mod"]
        names = {p.strip().partition(" as ")[0] for p in m["names"].split(",")}
        submodules = {_short(n) for n in MOVES.values() if _package(n) == mod}
        submodules |= {f.stem for f in (ROOT / "lib" / mod).glob("*.py")}  # modules added since the move
        if mod not in MOVES or names <= submodules:  # already `from lib.<package> import <mods>`
            return m.group(0)
        return f"{m['indent']}from lib.{MOVES[mod]} import {m['names']}"

    text = FROM_LIB_MOD.sub(from_lib_mod, text)
    # an import line inside a string (a script a test writes): "from lib import x\n"
    text = STRING_FROM_LIB.sub(
        lambda m: (
            f"{m['q']}from lib.{_package(MOVES[m['name']])} import {_short(MOVES[m['name']])}"
            if m["name"] in MOVES
            else m.group(0)
        ),
        text,
    )
    text = IMPORT_LIB_MOD.sub(
        lambda m: f"{m['indent']}import lib.{MOVES[m['mod']]}{m['rest']}" if m["mod"] in MOVES else m.group(0), text
    )
    for pattern, repl in DOTTED:
        text = pattern.sub(repl, text)
    for old, new in renames.items():
        # the module object used by name: `old.attr`, `old,` `(old)`; not "old" in strings
        text = re.sub(rf"(?<![\w.'\"]){old}\b(?!['\"])", new, text)
    return text


def rename_symbols(path: Path, text: str) -> str:
    rel = path.relative_to(ROOT)
    for glob, pattern, repl in SYMBOL_RENAMES:
        if rel.match(glob):
            text = re.sub(pattern, repl, text)
    # the base classes themselves are errors.X, never renamed
    return (
        text.replace("(errors.StaleRecordError", "(errors.ConflictError")
        .replace("(errors.StaleSegmentError", "(errors.ConflictError")
        .replace("(errors.AccountError", "(errors.UserError")
    )


def move_calls(text: str) -> str:
    for old, new, needed in CALL_MOVES:
        pattern = re.compile(rf"(?<![\w.]){re.escape(old)}")
        if not pattern.search(text):
            continue
        text = pattern.sub(new, text)
        if needed not in text:
            lines = text.split("\n")
            last = max((i for i, line in enumerate(lines) if re.match(r"(from lib|import lib)\b", line)), default=None)
            if last is None:  # no top-level lib import: after the last top-level import
                last = max(i for i, line in enumerate(lines) if re.match(r"(from|import) \w", line))
            lines.insert(last + 1, needed)
            text = "\n".join(lines)
    return text


def rewrite_text(text: str) -> str:
    for pattern, repl in DOTTED:
        text = pattern.sub(repl, text)
    return text


def files() -> list[Path]:
    seen: list[Path] = []
    for pattern in TEXT_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            if (
                path.is_file()
                and path.resolve() != SELF
                and path not in EXCLUDE
                and ".venv" not in path.parts
                and path not in seen
            ):
                seen.append(path)
    return seen


def rewrite() -> list[Path]:
    changed = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        new = rewrite_python(text) if path.suffix == ".py" else rewrite_text(text)
        if path.suffix == ".py":
            new = move_calls(rename_symbols(path, new))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def check() -> list[str]:
    """References to old module names that the rewrite would still change."""
    out = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        new = rewrite_python(text) if path.suffix == ".py" else rewrite_text(text)
        if path.suffix == ".py":
            new = move_calls(rename_symbols(path, new))
        if new != text:
            out.append(str(path.relative_to(ROOT)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rewrite", action="store_true", help="only rewrite references")
    parser.add_argument("--check", action="store_true", help="list files that need a rewrite")
    args = parser.parse_args(argv)
    if args.check:
        left = check()
        print("\n".join(left) or "no old module references")
        return 1 if left else 0
    if not args.rewrite:
        move()
    for path in rewrite():
        print("rewrote", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
