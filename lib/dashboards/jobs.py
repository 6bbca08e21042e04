"""The dashboards' scheduled job: rebuild the pre-aggregates (lib/admin/jobs.py runs it).

Imports and merges already rebuild them after each load (hooks.after_load); the hourly run
catches writes made by other means (edits, erasures, a restore) and the days rolling over, and
keeps them as they are when nothing they count has changed (`aggregates.refresh`).
"""

from __future__ import annotations

from lib.core import hooks
from lib.dashboards import aggregates


@hooks.job("aggregates_refresh", "15 * * * *", order=10)
def refresh_aggregates(ctx: hooks.JobContext) -> hooks.JobResult:
    ctx.progress(0.1, "aggregates")
    meta = aggregates.refresh()
    ctx.progress(1.0, "aggregates")
    counts = (
        f"{int(meta.get('customers') or 0):,} customers, {int(meta.get('orders') or 0):,} orders, "
        f"{int(meta.get('events') or 0):,} events"
    )
    if not meta.get("rebuilt"):  # nothing they count changed: kept, and every page's cache too
        built = meta.get("refreshed_at")
        since = f"{built:%Y-%m-%d %H:%M}" if built else "the last build"
        return hooks.JobResult(rows=0, note=f"Unchanged since {since}: kept ({counts})")
    return hooks.JobResult(
        rows=int(meta.get("customers") or 0), note=f"{counts} in {float(meta.get('seconds') or 0):.1f} s"
    )
