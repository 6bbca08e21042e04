"""Demo survey responses (NPS and CSAT) consistent with what each customer went through.

Generated after customers, orders and events are loaded, from their own RNG stream
(``g.rng(16, 4)``): the other demo tables stay byte-identical with or without this step.
Every column is built with numpy / pyarrow (one pass over the customers, no Python loop per
row), so the 1M-customer demo spends well under a second here.

The model: each customer has a latent satisfaction ~ N(0, 1), lowered by every complaint
(up to three) and by having churned, raised a little for repeat buyers. An NPS score is
8 + 1.8 x satisfaction + noise, a CSAT score 4 + 0.9 x satisfaction + noise, rounded and
clipped to the scale. Buyers answer the post-purchase NPS survey more often than prospects;
customers who complained answer the service CSAT survey more often than others. Responses
come at any time between registration and a month after the last purchase; a fifth of
the NPS responders answered once before as well. Older detractors were partly followed up
already (handled by the demo steward), so the worklist holds the recent ones.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lib.core import warehouse
from lib.security import auth
from lib.demo.pools import _cat, _null_where, _num, _strs, _take, _where
from lib.demo.rows import _ts
from lib.demo.spec import DAY

SURVEYS = ("post_purchase_nps", "service_csat")
CHANNELS = np.array(["sms", "email", "wechat", "app"])
CHANNEL_WEIGHTS = np.array([0.35, 0.2, 0.35, 0.1])
COMMENT_SHARE = 0.35
COMMENTS = {
    "low": (
        "物流太慢，等了一个多星期",
        "客服回复不及时，问题一直没解决",
        "商品质量和描述不符",
        "退款流程太麻烦",
        "包装破损，体验很差",
    ),
    "mid": (
        "整体还可以，价格有点贵",
        "商品不错，就是配送慢了一点",
        "一般般，没有特别的感受",
        "客服态度还行",
    ),
    "high": (
        "服务很好，会推荐给朋友",
        "质量很好，物流也快",
        "客服很耐心，问题很快解决了",
        "一直在这里买，很满意",
    ),
}
HANDLED_NOTE = "已电话回访，致歉并发放优惠券"
HANDLED_SHARE = 0.6  # of detractor responses older than HANDLED_AFTER_DAYS
HANDLED_AFTER_DAYS = 45


def generate(
    g, stage: np.ndarray, purchases: np.ndarray, last_purchase: np.ndarray, complaints: np.ndarray
) -> pa.Table:
    """The responses of one build (customer_id as stored), as an Arrow table in customer and
    time order. `complaints` holds each customer's number of complaint events."""
    rng = g.rng(16, 4)
    n, end = g.n, g.end
    buyer = purchases > 0
    complained = complaints > 0
    churned = stage == 4
    mood = rng.standard_normal(n) - 1.1 * np.minimum(complaints, 3) - 0.9 * churned + 0.2 * (stage == 3)
    # the time a customer answers: any time in their active life, from registration to a
    # month after their last purchase (prospects: their first month)
    last = np.minimum(np.where(buyer, last_purchase, g.reg) + 30 * DAY, end - 1)

    def when(rows: np.ndarray) -> np.ndarray:
        span = np.maximum(last[rows] - g.reg[rows], DAY)
        return np.minimum(g.reg[rows] + (rng.random(len(rows)) * span).astype(np.int64), end - 1)

    parts = []
    # NPS: post-purchase survey
    p_nps = np.where(buyer, 0.30 + 0.10 * complained, 0.03)
    nps_rows = np.flatnonzero(rng.random(n) < p_nps)
    nps_score = np.clip(np.rint(8.0 + 1.8 * mood[nps_rows] + rng.normal(0, 0.8, len(nps_rows))), 0, 10)
    parts.append((nps_rows, 0, nps_score, when(nps_rows)))
    # an earlier NPS answer of a fifth of them, between registration and the later answer
    again = nps_rows[rng.random(len(nps_rows)) < 0.2]
    later = parts[0][3][np.searchsorted(nps_rows, again)]
    t_again = g.reg[again] + (rng.random(len(again)) * np.maximum(later - g.reg[again] - DAY, 0)).astype(np.int64)
    again_score = np.clip(np.rint(8.3 + 1.8 * mood[again] + rng.normal(0, 1.0, len(again))), 0, 10)
    parts.append((again, 0, again_score, t_again))
    # CSAT: service survey, mostly after a contact with the service desk
    p_csat = np.where(complained, 0.60, np.where(buyer, 0.12, 0.02))
    csat_rows = np.flatnonzero(rng.random(n) < p_csat)
    csat_score = np.clip(np.rint(4.0 + 0.9 * mood[csat_rows] + rng.normal(0, 0.5, len(csat_rows))), 1, 5)
    parts.append((csat_rows, 1, csat_score, when(csat_rows)))

    rows = np.concatenate([p[0] for p in parts])
    survey = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    score = np.concatenate([p[2] for p in parts]).astype(np.int64)
    t = np.concatenate([p[3] for p in parts])
    order = np.lexsort((t, rows))
    rows, survey, score, t = rows[order], survey[order], score[order], t[order]
    m = len(rows)

    # comments by how the score reads on its scale: low (NPS 0-6, CSAT 1-2), mid, high
    band = np.where(
        survey == 0,
        np.where(score <= 6, 0, np.where(score <= 8, 1, 2)),
        np.where(score <= 2, 0, np.where(score == 3, 1, 2)),
    )
    pools = [COMMENTS["low"], COMMENTS["mid"], COMMENTS["high"]]
    flat = [c for pool in pools for c in pool]
    offsets = np.cumsum([0] + [len(p) for p in pools])[:-1]
    sizes = np.array([len(p) for p in pools])
    pick = offsets[band] + (rng.random(m) * sizes[band]).astype(np.int64)
    comment = _null_where(rng.random(m) >= COMMENT_SHARE, _take(_strs(flat), pick))
    channel = _take(_strs(CHANNELS), rng.choice(len(CHANNELS), m, p=CHANNEL_WEIGHTS))

    detractor = (survey == 0) & (score <= 6)
    old = t < end - HANDLED_AFTER_DAYS * DAY
    handled = detractor & old & (rng.random(m) < HANDLED_SHARE)
    t_handled = np.minimum(t + rng.integers(DAY, 7 * DAY, m), end - 1)
    no = ~handled
    return pa.table(
        {
            "customer_id": pa.array(g.ids[rows]),
            "survey": _take(_strs(SURVEYS), survey),
            "scale": _take(_strs(("nps", "csat")), survey),
            "score": pa.array(score, type=pa.int32()),
            "comment": comment,
            "responded_at": _ts(g.t0_epoch, t),
            "channel": channel,
            "source_record_id": _cat("FB", _num(np.arange(1, m + 1), 9)),
            "handled_at": _null_where(no, _ts(g.t0_epoch, t_handled)),
            "handled_by": _where(handled, pa.scalar("steward"), pa.nulls(m, pa.string())),
            "handled_note": _where(handled, pa.scalar(HANDLED_NOTE), pa.nulls(m, pa.string())),
        }
    )


@auth.pii_internal("writes invented demo responses (comments from a fixed pool); returns a row count")
def load(tx: warehouse.Tx, g, stage: np.ndarray, purchases: np.ndarray, last_purchase: np.ndarray) -> int:
    """Generate and insert the build's responses (after its events are loaded); returns the count."""
    found = tx.df("demo_feedback_complaints")
    complaints = np.zeros(g.n, dtype=np.int64)
    if len(found):
        pos = np.searchsorted(g.ids, found["customer_id"].to_numpy(dtype=np.int64))
        complaints[pos] = found["complaints"].to_numpy(dtype=np.int64)
    table = generate(g, stage, purchases, last_purchase, complaints)
    tx.register("demo_feedback", table)
    try:
        tx.run("demo_feedback_insert")
    finally:
        tx.unregister("demo_feedback")
    return table.num_rows
