"""Did a campaign work? Treatment vs control over its evaluation window (issue #18).

Two measures per group, from one SQL aggregation over the window's orders joined to the
frozen members (campaign_uplift_groups in lib/core/sql/marketing_campaigns.sql):

* purchase rate = members with at least one purchase in the window / members;
* revenue per customer = net purchase value in the window / members (non-buyers count as 0).

The uplift is treatment minus control, with a 95 % confidence interval:

* purchase rate: normal approximation for a difference of two proportions,
  diff +/- z(0.975) * sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c)  (unpooled standard error);
* revenue per customer: Welch's t interval (unequal variances; Welch-Satterthwaite degrees of
  freedom), from each group's count, sum and sum of squares.

The verdict reads the interval: entirely above zero -> the campaign raised it, entirely below
-> lowered it, spanning zero -> "not distinguishable from no campaign". docs/metrics.md has
the formulas and a worked example.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scipy import stats

from lib.core import warehouse

CONFIDENCE = 0.95
RAISED, LOWERED, NO_EFFECT, TOO_FEW = "raised", "lowered", "no_effect", "too_few"


@dataclass(frozen=True)
class Group:
    customers: int
    buyers: int
    revenue: float
    revenue_sq: float

    @property
    def purchase_rate(self) -> float:
        return self.buyers / self.customers if self.customers else 0.0

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0

    @property
    def revenue_variance(self) -> float:
        """Sample variance (n - 1) of per-member revenue (non-buyers are zeros)."""
        n = self.customers
        if n < 2:
            return 0.0
        return max((self.revenue_sq - n * self.revenue_per_customer**2) / (n - 1), 0.0)


@dataclass(frozen=True)
class Interval:
    difference: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        if math.isnan(self.low) or math.isnan(self.high):
            return TOO_FEW
        if self.low > 0:
            return RAISED
        if self.high < 0:
            return LOWERED
        return NO_EFFECT


def rate_interval(treatment: Group, control: Group, confidence: float = CONFIDENCE) -> Interval:
    """Difference of purchase rates with its normal-approximation interval."""
    if treatment.customers < 2 or control.customers < 2:
        return Interval(treatment.purchase_rate - control.purchase_rate, math.nan, math.nan)
    pt, pc = treatment.purchase_rate, control.purchase_rate
    se = math.sqrt(pt * (1 - pt) / treatment.customers + pc * (1 - pc) / control.customers)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    diff = pt - pc
    return Interval(diff, diff - z * se, diff + z * se)


def revenue_interval(treatment: Group, control: Group, confidence: float = CONFIDENCE) -> Interval:
    """Difference of revenue per customer with Welch's t interval."""
    diff = treatment.revenue_per_customer - control.revenue_per_customer
    if treatment.customers < 2 or control.customers < 2:
        return Interval(diff, math.nan, math.nan)
    vt = treatment.revenue_variance / treatment.customers
    vc = control.revenue_variance / control.customers
    se = math.sqrt(vt + vc)
    if se == 0:
        return Interval(diff, diff, diff)
    dof = (vt + vc) ** 2 / (vt**2 / (treatment.customers - 1) + vc**2 / (control.customers - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2, dof))
    return Interval(diff, diff - t * se, diff + t * se)


@dataclass(frozen=True)
class Result:
    campaign_id: int
    window_start: date
    window_end: date
    complete: bool  # the evaluation window has ended (as of the data date)
    treatment: Group
    control: Group
    purchase_rate: Interval
    revenue_per_customer: Interval

    @property
    def verdict(self) -> str:
        """The headline: the purchase-rate interval (docs/metrics.md says why)."""
        return self.purchase_rate.verdict


def groups(campaign_id: int, window_start: date, window_end: date) -> tuple[Group, Group]:
    """(treatment, control) aggregated in SQL over [window_start, window_end] inclusive."""
    frame = warehouse.read(
        "campaign_uplift_groups",
        campaign_id=int(campaign_id),
        window_start=datetime.combine(window_start, datetime.min.time()),
        window_stop=datetime.combine(window_end + timedelta(days=1), datetime.min.time()),
    )
    found = {
        bool(r["holdout"]): Group(int(r["customers"]), int(r["buyers"]), float(r["revenue"]), float(r["revenue_sq"]))
        for r in frame.to_dict("records")
    }
    empty = Group(0, 0, 0.0, 0.0)
    return found.get(False, empty), found.get(True, empty)


def measure(campaign_id: int, window_start: date, window_end: date, as_of: date) -> Result:
    """The campaign's uplift over its window (up to as_of while the window is still open)."""
    last = min(window_end, as_of)
    treatment, control = groups(campaign_id, window_start, last)
    return Result(
        int(campaign_id),
        window_start,
        last,
        as_of >= window_end,
        treatment,
        control,
        rate_interval(treatment, control),
        revenue_interval(treatment, control),
    )
