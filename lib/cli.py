"""Scripted jobs: `python -m lib.cli COMMAND ...`.

Each feature area adds its commands in `lib/commands/<area>.py` with a
`register(subparsers)` function; this module discovers them, so areas stay independent.
Commands take `--warehouse` to point at a warehouse other than the configured one.

Before any command runs, the keys (`config.check_keys`) and the warehouse location
(`warehouse.check_location`) are checked: a missing or weak key, a URL of the wrong kind or a
warehouse file that does not exist stops the job with one `error:` line and exit code 2,
before it has read a file or written a row. Commands that create a warehouse set
`creates_warehouse=True`; those that need no warehouse or keys set `offline=True`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from lib.core import config, warehouse
from lib.core.warehouse import WarehouseError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.cli", description="Customer 360 jobs")
    parser.add_argument(
        "--warehouse",
        help="warehouse location (file path, duckdb:/// URL or ducklake: spec); default: C360_WAREHOUSE / secrets",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import lib.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"lib.commands.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.warehouse:
        warehouse.use(args.warehouse)
    try:
        if not getattr(args, "offline", False):
            config.check_keys(cookie=False)
            warehouse.check_location(must_exist=not getattr(args, "creates_warehouse", False))
        return int(args.func(args) or 0)
    except (WarehouseError, PermissionError, ValueError, config.ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        warehouse.dispose()


if __name__ == "__main__":
    sys.exit(main())
