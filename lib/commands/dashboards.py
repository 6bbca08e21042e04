"""Dashboards commands: `aggregates refresh` rebuilds the pre-aggregated tables."""

from __future__ import annotations

from lib.dashboards import aggregates
from lib.core.i18n import t
from lib.core import warehouse


def register(subparsers) -> None:
    p = subparsers.add_parser("aggregates", help="dashboard pre-aggregates")
    sub = p.add_subparsers(dest="aggregates_command", required=True, metavar="ACTION")
    r = sub.add_parser("refresh", help="rebuild every dashboard aggregate (idempotent)")
    r.add_argument("--force", action="store_true", help="rebuild even when nothing they count has changed")
    r.set_defaults(func=cmd_refresh)
    s = sub.add_parser("status", help="when the aggregates were last rebuilt")
    s.set_defaults(func=cmd_status)


def cmd_refresh(args) -> int:
    warehouse.migrate()
    meta = aggregates.refresh(force=args.force)
    if not meta["rebuilt"]:
        print(t("dash.agg.kept", at=meta["refreshed_at"]))
        return 0
    print(
        t(
            "dash.agg.refreshed",
            seconds=meta["seconds"],
            customers=f"{meta['customers']:,}",
            orders=f"{meta['orders']:,}",
            events=f"{meta['events']:,}",
            base=meta["base_month"],
        )
    )
    return 0


def cmd_status(args) -> int:
    meta = aggregates.meta()
    if meta is None:
        print(t("dash.overview.no_aggregates"))
        return 1
    print(
        f"refreshed_at {meta['refreshed_at']:%Y-%m-%d %H:%M:%S}; "
        + t(
            "dash.agg.refreshed",
            seconds=meta["seconds"],
            customers=f"{meta['customers']:,}",
            orders=f"{meta['orders']:,}",
            events=f"{meta['events']:,}",
            base=meta["base_month"],
        )
    )
    return 0
