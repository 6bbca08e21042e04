"""Marketing's scheduled jobs: rebuild the RFM snapshot as of the new day, rescore churn risk and
CLV with the models already trained, and rebuild the customers' category preferences.

Training stays a person's decision (Churn page, `churn train`, `clv score`): these jobs only
apply the current model to today's data, and are skipped with a note while none exists.
"""

from __future__ import annotations

import json
from datetime import date

from lib.core import hooks, settings, warehouse
from lib.marketing import churn, clv, preferences, rfm
from lib.marketing.queries import cutoff
from lib.security import auth


@hooks.job("rfm_refresh", "45 2 * * *", order=38)
def refresh_rfm(ctx: hooks.JobContext) -> hooks.JobResult:
    """The RFM snapshot that segments, audiences and the RFM page read, as of the new day: built
    here, the day's first marketer does not wait for it (seconds at 1M)."""
    ctx.progress(0.1, "rfm")
    as_of = settings.as_of()
    customers = rfm.refresh(auth.SYSTEM, as_of)
    return hooks.JobResult(
        rows=customers, note=hooks.note("jobs.note.rfm", customers=f"{customers:,}", as_of=as_of.isoformat())
    )


@hooks.job("churn_rescore", "0 3 * * *", order=40)
def rescore_churn(ctx: hooks.JobContext) -> hooks.JobResult:
    if warehouse.scalar("churn_latest_model_id", horizon_days=None) is None:
        return hooks.JobResult(skipped=True, note=hooks.note("jobs.note.no_churn_model"))
    detail = churn.score(auth.SYSTEM, progress=ctx.progress)
    tiers = detail["tiers"]
    return hooks.JobResult(
        rows=int(detail["scored"]),
        note=hooks.note(
            "jobs.note.churn",
            model=detail["model_id"],
            scored=f"{detail['scored']:,}",
            **{tier: f"{tiers[tier]:,}" for tier in ("high", "medium", "low")},
        ),
    )


def rescore_clv(user: auth.User, as_of: date | None = None) -> dict | None:
    """Score every purchaser with the latest fitted CLV parameters (no refit, no backtest); a
    new clv_models row records the rescoring. None when no CLV model was fitted yet."""
    auth.require(user, "train_models")
    latest = warehouse.one("jobs_latest_clv_model")
    if latest is None:
        return None
    as_of = as_of or settings.as_of()
    bg = clv.BGNBD(**json.loads(latest["bgnbd"]))
    gg = clv.GammaGamma(**json.loads(latest["gamma_gamma"]))
    return clv._score(
        user, as_of, cutoff(as_of).date(), int(latest["horizon_days"]), bg, gg, None, int(latest["n_customers"])
    )


@hooks.job("preferences_refresh", "15 3 * * *", order=45)
def refresh_preferences(ctx: hooks.JobContext) -> hooks.JobResult:
    """Category preferences and the next category to offer, as of the new day."""
    ctx.progress(0.1, "preferences")
    done = preferences.refresh()
    return hooks.JobResult(
        rows=int(done["customers"]),
        note=hooks.note("jobs.note.preferences", customers=f"{done['customers']:,}", as_of=done["as_of"]),
    )


@hooks.job("clv_rescore", "30 3 * * *", order=50)
def rescore_clv_job(ctx: hooks.JobContext) -> hooks.JobResult:
    ctx.progress(0.1, "clv")
    detail = rescore_clv(auth.SYSTEM)
    if detail is None:
        return hooks.JobResult(skipped=True, note=hooks.note("jobs.note.no_clv_model"))
    ctx.progress(1.0, "clv")
    return hooks.JobResult(
        rows=int(detail["scored"]),
        note=hooks.note(
            "jobs.note.clv",
            model=detail["clv_model_id"],
            scored=f"{detail['scored']:,}",
            days=detail["horizon_days"],
        ),
    )
