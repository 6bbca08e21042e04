"""Behaviour: who buys how often, and the orders and events per block of customers."""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from lib.demo.spec import (
    CANCEL_SHARE,
    CATEGORY_MEDIAN_CNY,
    CATEGORY_SHARES,
    CHURNER_SHARE,
    CHURN_DAYS,
    CHURN_REASON_SHARE,
    CHURN_REASON_SHARES,
    COMPLAINT_NOTES,
    COMPLAINT_NOTES_EN,
    CONSULT_NOTES,
    CONSULT_NOTES_EN,
    DAY,
    INTENT_DAYS,
    INTENT_SHARE,
    ONE_TIME_SHARE,
    PARTIAL_REFUND_SHARE,
    PROSPECT_SHARE,
    PURCHASE_STATUSES,
    REFUND_SHARE,
    TARGET_EVENTS_PER_CUSTOMER,
    TARGET_ORDERS_PER_CUSTOMER,
    YEAR,
)
from lib.demo.pools import Curve, _choice
from lib.demo.rows import _Events, _online_source


class Activity:
    """Behaviour: who buys how often, and the orders and events per block of customers. Mixed into generator._Build."""

    # ---------------------------------------------------------------- behaviour plan
    def plan(self) -> None:
        """Per customer: class (prospect / intent / buyer), activity window, order count."""
        n, rng, end = self.n, self.rng(2), self.end
        u = rng.random(n)
        cls = np.where(u < PROSPECT_SHARE, 0, np.where(u < PROSPECT_SHARE + INTENT_SHARE, 1, 2))
        delay = np.where(rng.random(n) < 0.5, rng.exponential(3600, n), rng.exponential(20 * DAY, n)).astype(np.int64)
        # would-be buyers whose first order would come after as-of have not bought yet
        late = (cls == 2) & (self.reg + delay >= end)
        cls = np.where(late, np.where(rng.random(n) < 0.5, 1, 0), cls)
        buyer = cls == 2
        start = np.minimum(self.reg + delay, end - 1)
        # explicit churners: registered long enough ago, stop at a random point in time
        last_allowed = end - (CHURN_DAYS + 1) * DAY
        can_churn = buyer & (start + 30 * DAY < last_allowed) & (self.reg < end - 430 * DAY)
        churner = can_churn & (rng.random(n) < CHURNER_SHARE)
        churn_end = start + 30 * DAY + (rng.random(n) * np.maximum(last_allowed - start - 30 * DAY, 1)).astype(np.int64)
        stop = np.where(churner, churn_end, end)
        reason = np.where(churner & (rng.random(n) < CHURN_REASON_SHARE), _choice(rng, n, CHURN_REASON_SHARES), -1)
        one_time = buyer & (rng.random(n) < ONE_TIME_SHARE)
        repeat = buyer & ~one_time
        b2b_f = np.where(self.b2b, 0.6, 1.0)
        rate = rng.lognormal(np.log(4.0), 1.15, n) * b2b_f  # orders per year
        wy = (stop - start) / YEAR
        lam = rate * wy
        fixed = one_time.sum() + 2 * repeat.sum()
        scale = max(0.0, (TARGET_ORDERS_PER_CUSTOMER * n - fixed) / max(lam[repeat].sum(), 1e-9))
        k = np.where(repeat, 2 + rng.poisson(np.minimum(lam * scale, 3000)), 0)
        k = np.where(one_time, 1, k)
        self.cls, self.k, self.start, self.stop = cls, k.astype(np.int64), start, stop
        self.churner, self.reason = churner, reason
        # favourite category (gender-tilted) and event volume calibration
        base = np.array(CATEGORY_SHARES)
        tilt_f = base * np.array([1.3, 2.2, 0.6, 1.0, 1.0, 1.5, 0.7, 1.0])
        tilt_m = base * np.array([0.8, 0.4, 2.2, 1.0, 1.0, 0.8, 1.6, 1.0])
        fav = np.where(self.male, _choice(rng, n, tilt_m), _choice(rng, n, tilt_f))
        self.fav = fav
        kf = k.astype(float)
        per_order = 1 + 0.3 + 0.5 + (REFUND_SHARE + PARTIAL_REFUND_SHARE)
        buyers_fixed = (kf * per_order + 0.15 * kf**0.8 + 0.2 + 0.04 * kf + 0.05 + 0.012 * kf)[
            buyer
        ].sum() + churner.sum() * 0.5
        others = (cls == 1).sum() * (2.5 + 2.2 + 0.5) + (cls == 0).sum() * 0.8
        want = TARGET_EVENTS_PER_CUSTOMER * n - buyers_fixed - others
        self.beta = max(0.0, want / max((1 + kf[buyer] ** 0.8).sum(), 1e-9))

    # ---------------------------------------------------------------- orders and events
    def block(self, a: int, b: int):
        """Orders and events of customers [a, b), sorted by customer then time. Their ids
        are numbered from 0 here; the loader adds the first id drawn from the sequence."""
        rng = self.rng(3, a)
        end = self.end
        K = self.k[a:b]
        n_o = int(K.sum())
        cust = np.repeat(np.arange(a, b), K)
        offs = np.cumsum(K) - K
        pos = np.arange(n_o) - np.repeat(offs, K)
        lo, hi = self.start[cust], self.stop[cust]
        t = self.order_curve.sample(rng, lo, hi)
        t = np.where(pos == 0, lo, t)
        srt = np.argsort((cust.astype(np.int64) << 28) | t, kind="stable")
        t = t[srt]  # cust and pos are unchanged by the sort
        last = pos == np.repeat(K, K) - 1
        # orders
        cat = np.where(rng.random(n_o) < 0.55, self.fav[cust], _choice(rng, n_o, CATEGORY_SHARES))
        b2b = self.b2b[cust]
        items = np.where(b2b, 1 + rng.poisson(6, n_o), 1 + rng.poisson(0.5, n_o))
        unit = rng.lognormal(np.log(np.array(CATEGORY_MEDIAN_CNY)[cat]), 0.6) * np.where(b2b, 1.5, 1.0)
        amount = np.maximum(100, np.round(unit * items**0.85 * 100)).astype(np.int64)
        r = rng.random(n_o)
        refundable = t < end - 2 * DAY
        status = np.where(
            refundable & (r < REFUND_SHARE), 1, np.where(refundable & (r < REFUND_SHARE + PARTIAL_REFUND_SHARE), 2, 0)
        )
        cancel = (np.repeat(K, K) >= 3) & ~last & (rng.random(n_o) < CANCEL_SHARE)
        status = np.where(cancel, 3, status)
        refund = np.where(
            status == 1, amount, np.where(status == 2, np.round(amount * rng.uniform(0.1, 0.7, n_o)), 0)
        ).astype(np.int64)
        ch = np.where(rng.random(n_o) < 0.7, self.pref_channel[cust], _choice(rng, n_o, [0.25, 0.35, 0.25, 0.12, 0.03]))
        ch = np.where(b2b & (rng.random(n_o) < 0.6), 4, ch)
        src = np.array([1, 1, 2, 3, 0])[ch]
        src = np.where((ch == 0) & (rng.random(n_o) < 0.25), 4, src)
        oid = np.arange(n_o, dtype=np.int64)
        orders = pa.table(
            {
                "order_id": oid,
                "customer_id": cust,
                "source": src.astype(np.int8),
                "ts": (self.t0_epoch + t) * 1_000_000,
                "status": status.astype(np.int8),
                "amount_cents": amount,
                "refund_cents": refund,
                "channel": ch.astype(np.int8),
                "category": cat.astype(np.int8),
                "item_count": items.astype(np.int32),
            }
        )

        # events ------------------------------------------------------
        ev = _Events()
        reg = self.reg
        # purchase: one per order, same id / amount / time
        ev.add(cust, t, 2, ch, cat, amount, np.arange(n_o), src, -1, 0)
        # funnel: add_to_cart and browse shortly before an order
        m = rng.random(n_o) < 0.3
        tt = np.maximum(reg[cust[m]], t[m] - rng.exponential(2 * 3600, m.sum()).astype(np.int64))
        oc = self.online_channel[cust[m]]
        ev.add(
            cust[m], tt, 1, oc, cat[m], np.round(amount[m] / items[m]).astype(np.int64), None, _online_source(oc), -1, 0
        )
        m = rng.random(n_o) < 0.5
        tt = np.maximum(reg[cust[m]], t[m] - rng.exponential(1.5 * DAY, m.sum()).astype(np.int64))
        oc = self.online_channel[cust[m]]
        ev.add(cust[m], tt, 0, oc, cat[m], None, None, _online_source(oc), -1, 0)
        # returns: one per (partially) refunded order
        m = (status == 1) | (status == 2)
        tt = np.minimum(end - 1, t[m] + rng.integers(DAY, 15 * DAY, m.sum()))
        ev.add(cust[m], tt, 5, ch[m], cat[m], refund[m], np.flatnonzero(m), src[m], -1, 3)

        cs = np.arange(a, b)
        cls, k = self.cls[cs], self.k[cs]
        kf = k.astype(float)
        act_end = np.minimum(end, self.stop[cs] + 30 * DAY)
        buyer = cls == 2

        def times(c: np.ndarray, curve: Curve) -> np.ndarray:
            return curve.sample(rng, reg[c], act_end[c - a])

        def intent_times(c: np.ndarray) -> np.ndarray:
            """Intent customers' carts and consults fall in the last INTENT_DAYS."""
            t_any = times(c, self.browse_curve)
            recent = self.browse_curve.sample(
                rng, np.maximum(reg[c], end - INTENT_DAYS * DAY + 1), np.full(len(c), end)
            )
            return np.where(self.cls[c] == 1, recent, t_any)

        def per_customer(counts: np.ndarray) -> np.ndarray:
            return np.repeat(cs, counts)

        # browsing: buyers proportional to their activity, intent customers, prospects
        nb = np.where(
            buyer,
            rng.poisson(self.beta * (1 + kf**0.8)),
            np.where(cls == 1, rng.poisson(2.5, len(cs)), rng.poisson(0.8, len(cs))),
        )
        c = per_customer(nb)
        oc = self.online_channel[c]
        ev.add(c, times(c, self.browse_curve), 0, oc, self._cat_pick(rng, c), None, None, _online_source(oc), -1, 0)
        # carts without an order: abandoned carts of buyers, intent customers' carts
        intent = cls == 1
        want_cart = rng.random(len(cs)) < 0.85
        nc = np.where(
            buyer, rng.poisson(0.15 * kf**0.8), np.where(intent & want_cart, 1 + rng.poisson(1.2, len(cs)), 0)
        )
        c = per_customer(nc)
        oc = self.online_channel[c]
        cc = self._cat_pick(rng, c)
        price = np.maximum(100, np.round(rng.lognormal(np.log(np.array(CATEGORY_MEDIAN_CNY)[cc]), 0.6) * 100)).astype(
            np.int64
        )
        ev.add(c, intent_times(c), 1, oc, cc, price, None, _online_source(oc), -1, 0)
        # consults (with a short note)
        ncons = np.where(
            buyer,
            rng.poisson(0.2 + 0.04 * np.minimum(kf, 50)),
            np.where(intent, np.where(want_cart, rng.poisson(0.3, len(cs)), 1 + rng.poisson(0.3, len(cs))), 0),
        )
        c = per_customer(ncons)
        note = self._notes(rng, c, consult=True)
        ev.add(
            c,
            intent_times(c),
            3,
            np.where(rng.random(len(c)) < 0.5, 5, 2),
            self._cat_pick(rng, c),
            None,
            None,
            np.zeros(len(c), dtype=np.int64),
            note,
            2,
        )
        # complaints: about one of the customer's orders
        ncomp = np.where(buyer, rng.poisson(0.05 + 0.012 * np.minimum(kf, 100)), 0)
        ncomp = ncomp + np.where(self.churner[cs] & np.isin(self.reason[cs], [2, 3, 4]), 1, 0)
        c = per_customer(ncomp)
        if len(c):
            first = (np.cumsum(K) - K)[c - a]
            o = first + (rng.random(len(c)) * K[c - a]).astype(np.int64)
            tt = np.minimum(end - 1, t[o] + rng.exponential(2 * DAY, len(c)).astype(np.int64))
            ev.add(
                c,
                tt,
                4,
                np.where(rng.random(len(c)) < 0.6, 5, 2),
                cat[o],
                None,
                o,
                np.zeros(len(c), dtype=np.int64),
                self._notes(rng, c, consult=False),
                2,
            )

        e = ev.build()
        srt = np.argsort((e["cust"] << 28) | e["t"], kind="stable")
        e = {kk: v[srt] for kk, v in e.items()}
        n_e = len(e["t"])
        events = pa.table(
            {
                "event_id": np.arange(n_e, dtype=np.int64),
                "customer_id": e["cust"],
                "event_type": e["type"].astype(np.int8),
                "ts": (self.t0_epoch + e["t"]) * 1_000_000,
                "channel": e["channel"].astype(np.int8),
                "category": e["cat"].astype(np.int8),
                "amount_cents": e["amount"],
                "order_id": e["order"],
                "source": e["source"].astype(np.int8),
                "note": e["note"].astype(np.int16),
                "sri": e["sri"].astype(np.int8),
            }
        )
        # per-customer summary for the lifecycle stage (lib/marketing/lifecycle.py's rules)
        purchase = np.isin(status, PURCHASE_STATUSES)
        summary = {
            "purchases": np.bincount(cust[purchase] - a, minlength=b - a),
            "last_purchase": np.full(b - a, -1, dtype=np.int64),
            "last_intent": np.full(b - a, -1, dtype=np.int64),
        }
        np.maximum.at(summary["last_purchase"], cust[purchase] - a, t[purchase])
        is_intent = (e["type"] == 1) | (e["type"] == 3)
        np.maximum.at(summary["last_intent"], e["cust"][is_intent] - a, e["t"][is_intent])
        return orders, events, summary

    def _cat_pick(self, rng: np.random.Generator, c: np.ndarray) -> np.ndarray:
        return np.where(rng.random(len(c)) < 0.55, self.fav[c], _choice(rng, len(c), CATEGORY_SHARES))

    def _notes(self, rng: np.random.Generator, c: np.ndarray, consult: bool) -> np.ndarray:
        zh = CONSULT_NOTES if consult else COMPLAINT_NOTES
        en = CONSULT_NOTES_EN if consult else COMPLAINT_NOTES_EN
        zh0 = 0 if consult else len(CONSULT_NOTES)
        en0 = len(CONSULT_NOTES) + len(COMPLAINT_NOTES) + (0 if consult else len(CONSULT_NOTES_EN))
        return np.where(self.intl[c], en0 + rng.integers(0, len(en), len(c)), zh0 + rng.integers(0, len(zh), len(c)))
