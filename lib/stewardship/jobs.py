"""Stewardship's scheduled jobs: the quality run, incremental duplicate matching and the weekly
rebuild of the customer search index.

Both run as the system user (auth.SYSTEM) and are audited like the same action on the pages.
"""

from __future__ import annotations

from lib.core import hooks, warehouse
from lib.security import auth, search_index
from lib.stewardship import dedup, quality


@hooks.job("quality_run", "30 1 * * *", order=20)
def run_quality(ctx: hooks.JobContext) -> hooks.JobResult:
    ctx.progress(0.1, "quality")
    result = quality.run(auth.SYSTEM)
    ctx.progress(1.0, "quality")
    score = "–" if result.overall_score is None else f"{100 * result.overall_score:.1f}%"
    return hooks.JobResult(
        rows=result.customers,
        note=hooks.note(
            "jobs.note.quality",
            run=result.run_id,
            score=score,
            opened=f"{result.flags_opened:,}",
            resolved=f"{result.flags_resolved:,}",
        ),
    )


@hooks.job("incremental_matching", "45 * * * *", order=30)
def match_new_customers(ctx: hooks.JobContext) -> hooks.JobResult:
    """Score the customers added since the last run against everyone with the stored model.

    Imports already match their new customers; this catches customers written by other means
    (an import with matching turned off, a restored file). The first run sets the starting
    point (the newest customer id) and matches nothing.
    """
    if warehouse.one("stw_dedup_latest_model") is None:
        return hooks.JobResult(
            skipped=True,
            note=hooks.note("jobs.note.no_match_model"),
        )
    newest = int(warehouse.scalar("jobs_newest_customer_id") or 0)
    if ctx.watermark is None:
        return hooks.JobResult(
            watermark=newest,
            note=hooks.note("jobs.note.match_start", id=f"{newest:,}"),
        )
    new_ids = [int(i) for i in warehouse.read("jobs_live_customer_ids_after", after=ctx.watermark)["customer_id"]]
    if not new_ids:
        return hooks.JobResult(watermark=max(newest, ctx.watermark), note=hooks.note("jobs.note.match_none"))
    ctx.progress(0.2, "matching")
    pairs = dedup.match_new(auth.SYSTEM, new_ids)
    ctx.progress(1.0, "matching")
    return hooks.JobResult(
        rows=pairs,
        watermark=max(new_ids),
        note=hooks.note("jobs.note.matched", customers=f"{len(new_ids):,}", pairs=f"{pairs:,}"),
    )


@hooks.job("search_index_rebuild", "45 4 * * 0", order=35)
def rebuild_search_index(ctx: hooks.JobContext) -> hooks.JobResult:
    """Derive the customer search index again (lib/security/search_index.py). Every write keeps
    it in step; the rebuild sorts the week's small refreshes back into place (their rows sit at
    the end of the table, read by every search) and recounts the grams."""
    ctx.progress(0.1, "search index")
    with warehouse.transaction() as tx:
        search_index.rebuild(tx)
    size = search_index.size()
    ctx.progress(1.0, "search index")
    return hooks.JobResult(
        rows=int(size["customers"]),
        note=hooks.note("jobs.note.search_index", entries=f"{size['entries']:,}", customers=f"{size['customers']:,}"),
    )
