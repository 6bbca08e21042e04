"""Search index commands: `search check` compares the index with the customers it is derived
from, `search rebuild` derives it again (lib/security/search_index.py)."""

from __future__ import annotations

import time

from lib.core import warehouse
from lib.security import search_index


def register(subparsers) -> None:
    p = subparsers.add_parser("search", help="the customer search index (names, pinyin, companies)")
    sub = p.add_subparsers(dest="search_command", required=True, metavar="ACTION")
    sub.add_parser("check", help="entries missing from or extra in the index (exit 1 if any)").set_defaults(
        func=cmd_check
    )
    sub.add_parser("rebuild", help="derive the whole index again, sorted (idempotent)").set_defaults(func=cmd_rebuild)


def cmd_check(args) -> int:
    warehouse.migrate()
    diff = search_index.differences()
    size = search_index.size()
    print(
        f"search index: {size['entries']:,} entries for {size['customers']:,} customers; "
        f"missing {diff['missing']:,}, extra {diff['extra']:,}"
        + (f" (customers {', '.join(map(str, diff['customers']))})" if diff["customers"] else "")
    )
    return 1 if diff["missing"] or diff["extra"] else 0


def cmd_rebuild(args) -> int:
    warehouse.migrate()
    started = time.perf_counter()
    with warehouse.transaction() as tx:
        search_index.rebuild(tx)
    size = search_index.size()
    print(
        f"search index rebuilt in {time.perf_counter() - started:.1f} s: "
        f"{size['entries']:,} entries for {size['customers']:,} customers"
    )
    return 0
