"""The demo's past campaigns (issue #18): three with a real effect, one with none.

Own random stream (numpy seeded with [seed, 18, 1]), built after every other table and only
reading them: customers, orders, events and consents stay byte-identical (their fingerprints
do not change). No order is added. Instead each campaign's audience is chosen the way a
campaign with a known effect would have left it: the control group holds the pool's own share
of customers who bought in the evaluation window (what no campaign gives), the treated members
that share + the campaign's lift (0 for the campaign without effect). The control group stored
is exactly what lib/core/holdout.py draws for those members (the function a launch uses), so
the campaign page computes everything from the data like for any real campaign.
docs/demo-data.md describes the campaigns and their figures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from lib.core import holdout, warehouse


@dataclass(frozen=True)
class DemoCampaign:
    name: str
    kind: str  # segment | winback
    channel: str
    start_days_before: int  # start = as_of - this many days
    send_days: int
    eval_days: int  # evaluation window, from the start
    lapsed_days: int | None  # pool: buyers without a purchase in this many days (win-back)
    lift: float  # added chance that a treated member is a window buyer (0 = no effect)


CAMPAIGNS = (
    DemoCampaign("春季流失挽回短信 Spring win-back SMS", "winback", "sms", 240, 7, 30, 90, 0.20),
    DemoCampaign("618 会员专享邮件 618 member offer", "segment", "email", 150, 14, 30, None, 0.20),
    DemoCampaign("开学季短信 Back-to-school SMS", "segment", "sms", 90, 7, 30, None, 0.15),
    DemoCampaign("秋季资讯邮件 Autumn newsletter", "segment", "email", 60, 3, 30, None, 0.0),
)
SHARE = holdout.DEFAULT_SHARE
MAX_MEMBERS = 20_000


def _draw(rng: np.random.Generator, ids: np.ndarray, bought: np.ndarray, size: int, rate: float) -> np.ndarray:
    """`size` of `ids`, exactly round(size x rate) of them window buyers (as many as there are)."""
    buyers, others = ids[bought], ids[~bought]
    from_buyers = min(int(round(size * rate)), len(buyers), size)
    from_others = min(size - from_buyers, len(others))
    return np.concatenate(
        [rng.choice(buyers, from_buyers, replace=False), rng.choice(others, from_others, replace=False)]
    )


def _members(rng: np.random.Generator, campaign_id: int, pool: pd.DataFrame, spec: DemoCampaign) -> tuple[list, set]:
    """Members and control group. Both groups are drawn from the pool with a set share of window
    buyers: the control group at the pool's own rate (what no campaign gives), the treated
    members at that rate + the lift. Control candidates are the pool's lowest rank keys for this
    campaign and treatment candidates the others, so the holdout of the members (lib/core/holdout.py)
    is exactly the control group drawn."""
    ids = pool["customer_id"].to_numpy(dtype=np.int64)
    bought = pool["bought_in_window"].to_numpy(dtype=bool)
    base = float(bought.mean())
    treated_rate = min(base + spec.lift, 0.95)
    n = min(len(ids) // 2, MAX_MEMBERS)
    if spec.lift > 0:  # enough window buyers among the treatment candidates for the lift
        n = min(n, int(0.7 * bought.sum() / treated_rate))
    k = holdout.control_size(n, SHARE)
    keys = np.array([holdout.rank_key(campaign_id, int(i)) for i in ids], dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    cut = max(len(ids) // 4, k)
    low, high = order[:cut], order[cut:]
    control = _draw(rng, ids[low], bought[low], k, base)
    treated = _draw(rng, ids[high], bought[high], n - k, treated_rate)
    members = sorted(int(i) for i in np.concatenate([control, treated]))
    drawn = holdout.control_ids(campaign_id, members, SHARE)
    if drawn != {int(i) for i in control}:
        raise AssertionError("the demo's control group must be the holdout of its members")
    return members, drawn


def add(seed: int, as_of: date) -> list[dict]:
    """Write the demo campaigns into the current warehouse; returns (name, members, control)."""
    rng = np.random.default_rng([seed, 18, 1])
    made = []
    with warehouse.transaction() as tx:
        for spec in CAMPAIGNS:
            start = as_of - timedelta(days=spec.start_days_before)
            end = start + timedelta(days=spec.send_days - 1)
            eval_end = start + timedelta(days=spec.eval_days - 1)
            pool = tx.fast_df(
                "demo_campaign_pool",
                window_start=datetime.combine(start, datetime.min.time()),
                window_stop=datetime.combine(eval_end + timedelta(days=1), datetime.min.time()),
            )
            if spec.lapsed_days is not None:
                pool = pool[pool["days_since_purchase"] >= spec.lapsed_days]
            if len(pool) < 40:
                continue  # too small a warehouse for this campaign
            if len(pool) > 8 * MAX_MEMBERS:  # large warehouses: draw from a random part of the pool
                pool = pool.iloc[np.sort(rng.choice(len(pool), 8 * MAX_MEMBERS, replace=False))]
            campaign_id = int(tx.scalar("demo_campaign_next_id"))
            members, control = _members(rng, campaign_id, pool.reset_index(drop=True), spec)
            if len(members) < 20:
                continue  # too few window buyers in a tiny warehouse (the id is simply skipped)
            definition = (
                {"demo": f"lapsed buyers: no purchase in the {spec.lapsed_days} days before the start"}
                if spec.lapsed_days
                else {"demo": "buyers with a purchase before the start"}
            )
            tx.run(
                "demo_campaign_insert",
                campaign_id=campaign_id,
                campaign_name=spec.name,
                kind=spec.kind,
                definition=json.dumps(definition),
                channel=spec.channel,
                start_date=start,
                end_date=end,
                eval_end=eval_end,
                holdout_share=SHARE,
                launched_at=datetime.combine(start, datetime.min.time()),
            )
            frame = pd.DataFrame(
                {
                    "campaign_id": pd.Series([campaign_id] * len(members), dtype="int64"),
                    "customer_id": pd.Series(members, dtype="int64"),
                    "holdout": pd.Series([m in control for m in members], dtype="boolean"),
                }
            )
            tx.register("campaign_members_new", frame)
            tx.run("campaign_members_from_frame")
            tx.unregister("campaign_members_new")
            made.append(
                {"campaign_id": campaign_id, "name": spec.name, "members": len(members), "control": len(control)}
            )
    return made
