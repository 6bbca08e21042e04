"""The dashboards' scheduled job: rebuild the pre-aggregates (lib/admin/jobs.py runs it).

Imports and merges already rebuild them after each load (hooks.after_load); the hourly run
catches writes made by other means (edits, erasures, a restore) and the days rolling over.
"""

from __future__ import annotations

from lib.core import hooks
from lib.dashboards import aggregates


@hooks.job("aggregates_refresh", "15 * * * *", order=10)
def refresh_aggregates(ctx: hooks.JobContext) -> hooks.JobResult:
    ctx.progress(0.1, "aggregates")
    meta = aggregates.refresh()
    ctx.progress(1.0, "aggregates")
    return hooks.JobResult(
        rows=int(meta.get("customers") or 0),
        note=(
            f"{int(meta.get('customers') or 0):,} customers, {int(meta.get('orders') or 0):,} orders, "
            f"{int(meta.get('events') or 0):,} events in {float(meta.get('seconds') or 0):.1f} s"
        ),
    )
