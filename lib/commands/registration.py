"""Registration dates: infer the unknown ones from each customer's first order or event.

    python -m lib.cli registration infer

The import runs the same step after every load; this command is for warehouses filled by
other means (a script, a restore of an older file).
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("registration", help="registration dates not given by a source")
    sub = p.add_subparsers(dest="registration_command", required=True)
    i = sub.add_parser("infer", help="set unknown registration dates to the first known activity")
    i.set_defaults(func=cmd_infer)


def cmd_infer(args) -> int:
    from lib.security import auth
    from lib.stewardship import registration
    from lib.core import warehouse

    warehouse.migrate()
    result = registration.infer_dates(auth.SYSTEM)
    print(
        f"registration dates: {result['changed']:,} set now; {result['inferred']:,} inferred from first activity, "
        f"{result['unknown']:,} still unknown (no order or event yet)"
    )
    return 0
