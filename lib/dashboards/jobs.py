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
    counts = {k: f"{int(meta.get(k) or 0):,}" for k in ("customers", "orders", "events")}
    if not meta.get("rebuilt"):  # nothing they count changed: kept, and every page's cache too
        built = meta.get("refreshed_at")
        if built is None:
            return hooks.JobResult(rows=0, note=hooks.note("jobs.note.aggregates_kept_first", **counts))
        return hooks.JobResult(
            rows=0, note=hooks.note("jobs.note.aggregates_kept", since=f"{built:%Y-%m-%d %H:%M}", **counts)
        )
    return hooks.JobResult(
        rows=int(meta.get("customers") or 0),
        note=hooks.note("jobs.note.aggregates", seconds=f"{float(meta.get('seconds') or 0):.1f}", **counts),
    )
