"""Foundation commands: init, demo, users."""

from __future__ import annotations

import sys
import time
from datetime import date

from lib.security import auth
from lib.core import warehouse
from lib.admin import setting_changes
from lib import demo
from lib.dashboards import aggregates
from lib.marketing import churn, clv, preferences, rfm
from lib.stewardship import dedup, quality


def register(subparsers) -> None:
    p = subparsers.add_parser("init", help="create an empty, migrated warehouse")
    p.set_defaults(func=cmd_init, creates_warehouse=True)

    p = subparsers.add_parser("demo", help="build the demo warehouse and its demo logins")
    p.add_argument("--customers", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--as-of", type=date.fromisoformat, default=None)
    p.add_argument("--if-missing", action="store_true", help="do nothing when the warehouse already has customers")
    p.add_argument("--replace", action="store_true", help="delete an existing warehouse first")
    p.set_defaults(func=cmd_demo, creates_warehouse=True)

    p = subparsers.add_parser("demo-logins", help="print the demo logins")
    p.set_defaults(func=cmd_demo_logins, offline=True)


def cmd_init(args) -> int:
    applied = warehouse.migrate()
    loc = warehouse.current_location().describe()
    print(
        f"warehouse {loc}: applied {len(applied)} migration(s)"
        + (f": {', '.join(applied)}" if applied else " (already up to date)")
    )
    return 0


def cmd_demo(args) -> int:
    loc = warehouse.current_location()
    if args.if_missing and loc.path is not None and loc.path.exists():
        # `make run` runs this. An existing warehouse gets the demo logins (known passwords)
        # only when the demo generator built it: never one made by `init` and filled by imports.
        warehouse.migrate()
        if warehouse.scalar("warehouse_origin") != "demo":
            print(
                f"error: {loc.describe()} exists and was not built by the demo generator; "
                "refusing to add demo data or demo logins to it. Point C360_WAREHOUSE at "
                "another file for the demo (or rebuild a broken demo with --replace).",
                file=sys.stderr,
            )
            return 2
        if warehouse.scalar(warehouse.raw_sql("SELECT count(*) FROM customers")) > 0:
            auth.seed_demo_users()
            print(f"demo warehouse {loc.describe()} already built")
            return 0
        warehouse.dispose()
    started = time.perf_counter()
    as_of = args.as_of or demo.DEFAULT_AS_OF
    stats = demo.build(
        args.customers,
        args.seed,
        as_of,
        str(loc.path) if loc.path else None,
        replace=args.replace,
        progress=lambda msg: print(f"  {msg}", flush=True),
    )
    warehouse.migrate()
    auth.seed_demo_users()
    setting_changes.put_system("data_as_of", as_of.isoformat())
    _first_jobs()
    print(
        f"demo warehouse {loc.describe()}: {stats['customers']:,} customers, "
        f"{stats['orders']:,} orders, {stats['events']:,} events "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _first_jobs() -> None:
    """The scheduled jobs a real deployment runs after a load, run once so that every page of
    the demo shows real results on first login (scorecard, duplicates, RFM, churn risk, CLV,
    category preferences)."""
    jobs = [
        ("pre-aggregates", aggregates.refresh),
        ("quality rules", lambda: quality.run(auth.SYSTEM)),
        ("duplicate detection (splink)", lambda: dedup.run(auth.SYSTEM)),
        ("RFM snapshot", lambda: rfm.refresh(auth.SYSTEM)),
        ("churn model", lambda: churn.train(auth.SYSTEM)),
        ("churn scores", lambda: churn.score(auth.SYSTEM)),
        ("CLV (BG/NBD + Gamma-Gamma)", lambda: clv.fit_and_score(auth.SYSTEM)),
        ("category preferences", preferences.refresh),
    ]
    for name, job in jobs:
        started = time.perf_counter()
        job()
        print(f"  {name}: {time.perf_counter() - started:.1f}s", flush=True)


def cmd_demo_logins(args) -> int:
    print("Demo logins (user / password / roles):")
    for username, spec in auth.DEMO_USERS.items():
        print(f"  {username:<10} {spec['password']:<16} {', '.join(spec['roles'])}")
    return 0
