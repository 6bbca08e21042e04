"""DuckLake commands: move a warehouse into a lake and back, and keep a lake tidy.

    python -m lib.cli --warehouse data/warehouse.duckdb lake migrate --to "ducklake:postgres:..." --data /srv/lake/
    python -m lib.cli lake migrate --from "ducklake:postgres:..." --to /backups/c360.duckdb
    python -m lib.cli --warehouse "ducklake:postgres:..." lake compact | checkpoint | check | info
    python -m lib.cli --warehouse "ducklake:postgres:..." lake expire --older-than 7
    python -m lib.cli --warehouse "ducklake:postgres:..." lake cleanup --older-than 1

Maintenance commands are safe to schedule while the app and imports run: each is an ordinary
DuckLake transaction, retried when a concurrent writer commits first; exit code 0 = done.
"""

from __future__ import annotations

import json
import os

from lib.security import audit, auth
from lib.core import warehouse
from lib.core import lake


def register(subparsers) -> None:
    lake = subparsers.add_parser("lake", help="DuckLake: migrate a warehouse in/out, maintenance")
    sub = lake.add_subparsers(dest="lake_command", required=True, metavar="LAKE_COMMAND")

    p = sub.add_parser(
        "migrate",
        help="copy a warehouse file into an empty lake, or a lake into a new file, comparing row counts and checksums",
    )
    p.add_argument(
        "--from", dest="source", help="source (file or ducklake: spec); default: --warehouse / C360_WAREHOUSE"
    )
    p.add_argument(
        "--to", dest="target", help="target (ducklake: spec or a new file path); default: --warehouse / C360_WAREHOUSE"
    )
    p.add_argument("--data", help="data path for a new lake (default C360_LAKE_DATA)")
    p.set_defaults(func=cmd_migrate, creates_warehouse=True)

    p = sub.add_parser("compact", help="flush inlined rows, rewrite files with deletes, merge small files")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("checkpoint", help="DuckLake CHECKPOINT: all maintenance per lake options")
    p.set_defaults(func=cmd_checkpoint)

    p = sub.add_parser("expire", help="expire snapshots older than N days")
    p.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_expire)

    p = sub.add_parser("cleanup", help="delete data files no snapshot needs, older than N days")
    p.add_argument("--older-than", type=float, default=1.0, metavar="DAYS")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_cleanup)

    p = sub.add_parser(
        "check", help="report rows breaking recorded PRIMARY KEY/UNIQUE/CHECK constraints (exit 1 if any)"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("info", help="snapshots, files and data size of the lake")
    p.set_defaults(func=cmd_info)


def _is_lake(spec: str) -> bool:
    return spec.strip().startswith("ducklake:")


def cmd_migrate(args) -> int:
    configured = warehouse.current_location()
    default = configured.url if configured.kind == "lake" else str(configured.path or "")
    source = args.source or default
    target = args.target or default
    if _is_lake(source) == _is_lake(target):
        raise ValueError(
            "lake migrate needs one side to be a ducklake: spec and the other a "
            "DuckDB file (--from / --to; the missing side is the configured warehouse)"
        )
    warehouse.dispose()  # this process must not hold the source file open itself
    if _is_lake(target):
        src = warehouse.parse_location(source)
        if src.path is None:
            raise ValueError("the source must be a DuckDB file path")
        print(f"moving {src.path} into {target}")
        result = lake.migrate_file_to_lake(src.path, target, args.data, progress=_progress)
    else:
        dst = warehouse.parse_location(target)
        if dst.path is None:
            raise ValueError("the target must be a DuckDB file path")
        print(f"moving {source} into {dst.path}")
        result = lake.migrate_lake_to_file(source, dst.path, progress=_progress)
    _print_checks(result)
    if result.ok:
        lake_side = target if _is_lake(target) else source
        _audit(
            lake_side,
            "lake.migrate",
            {"direction": result.direction, "rows": result.rows, "tables": len(result.tables)},
            args.data if _is_lake(target) else None,
        )
    return 0 if result.ok else 1


def _progress(message: str) -> None:
    print("  " + message, flush=True)


def _print_checks(result) -> None:
    print(f"{'table':<28} {'rows source':>12} {'rows target':>12}  checksum")
    for t in result.tables:
        print(
            f"{t.table:<28} {t.rows_source:>12,} {t.rows_target:>12,}  "
            f"{'match' if t.ok else 'MISMATCH ' + t.checksum_source + ' != ' + t.checksum_target}"
        )
    print(f"sequences: {', '.join(f'{k}={v}' for k, v in sorted(result.sequences.items())) or '-'}")
    print(f"views: {', '.join(result.views) or '-'}")
    verdict = "all tables match" if result.ok else "CHECKSUM MISMATCH: do not switch over"
    print(f"{result.direction}: {len(result.tables)} tables, {result.rows:,} rows in {result.seconds:.1f} s; {verdict}")


def _audit(spec_or_path: str, action: str, detail: dict, data_path: str | None) -> None:
    """Record the job in the lake's audit log (as the system user)."""
    previous = os.environ.get("C360_LAKE_DATA")
    if data_path:  # a lake created by this command, with a data path given on the command line
        os.environ["C360_LAKE_DATA"] = data_path
    warehouse.use(spec_or_path)
    try:
        audit.record(None, auth.SYSTEM, action, "warehouse", None, detail=detail)
    finally:
        warehouse.dispose()
        if previous is None:
            os.environ.pop("C360_LAKE_DATA", None)
        else:
            os.environ["C360_LAKE_DATA"] = previous


def _maintenance(args):
    loc = warehouse.current_location()
    if loc.kind != "lake":
        raise ValueError("lake maintenance needs a lake: pass --warehouse ducklake:postgres:... or set C360_WAREHOUSE")
    return lake, *lake.maintenance_connection(loc.url)


def cmd_compact(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        result = lake.compact(con, handle)
    finally:
        handle.close()
    print(f"compacted: {json.dumps(result)}")
    return 0


def cmd_checkpoint(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        lake.checkpoint(con)
    finally:
        handle.close()
    print("checkpoint done")
    return 0


def cmd_expire(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        n = lake.expire(con, args.older_than, args.dry_run)
    finally:
        handle.close()
    print(f"{'would expire' if args.dry_run else 'expired'} {n} snapshot(s) older than {args.older_than:g} day(s)")
    return 0


def cmd_cleanup(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        n = lake.cleanup(con, args.older_than, args.dry_run)
    finally:
        handle.close()
    print(f"{'would delete' if args.dry_run else 'deleted'} {n} file(s) older than {args.older_than:g} day(s)")
    return 0


def cmd_check(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        problems = lake.constraint_violations(con)
    finally:
        handle.close()
    for p in problems:
        what = p["expression"] if p["kind"] == "check" else ", ".join(p["columns"])
        print(f"{p['table']}: {p['violations']} violation(s) of {p['kind']} ({what})")
    print("constraints hold" if not problems else f"{len(problems)} constraint(s) violated")
    return 0 if not problems else 1


def cmd_info(args) -> int:
    lake, handle, con = _maintenance(args)
    try:
        result = lake.info(con)
    finally:
        handle.close()
    for key, value in result.items():
        print(f"{key:<16} {value}")
    return 0
