"""Campaigns with a control group (issue #18): holdout, launch, win-back drafts, statuses, and
the uplift with its 95 % intervals against values worked out by hand."""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pytest
from scipy import stats

from lib.core import holdout, i18n, warehouse
from lib.marketing import campaigns, uplift
from lib.security import auth
from tests import factories as f
from tests.marketing_fixture import AS_OF, fresh_wh, empty_wh  # noqa: F401 - fixtures

MARKETING = auth.User("marketing", "Li Na", frozenset({"marketing"}))
MANAGER = auth.User("manager", "Wang Fang", frozenset({"manager"}))
EVERYONE = {"op": "and", "conditions": []}
LIVE = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]  # the fixture's live customers (12 is merged)


def june_campaign(share: float = 0.2, segment=EVERYONE, channel: str = "sms") -> int:
    return campaigns.create(
        MARKETING, "June SMS", channel, date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30), segment, share
    )


# ---------------------------------------------------------------- the control group


def test_the_holdout_is_reproducible_and_exactly_the_share():
    ids = list(range(1, 1001))
    first = holdout.control_ids(7, ids, 0.10)
    assert len(first) == 100
    assert holdout.control_ids(7, list(reversed(ids)), 0.10) == first  # order of input irrelevant
    assert holdout.control_ids(7, ids, 0.10) == first
    assert holdout.control_ids(8, ids, 0.10) != first  # another campaign shuffles anew


def test_the_holdout_does_not_follow_the_customer_id():
    """Unbiased: low and high ids (old and new customers) are held out at the same rate."""
    ids = list(range(1, 20001))
    control = holdout.control_ids(3, ids, 0.10)
    assert len(control) == 2000
    low = sum(1 for i in control if i <= 10000)
    # binomial(10000, 0.1) has sd 30: 5 sd either side
    assert 850 <= low <= 1150, low


def test_control_size_rounds_and_keeps_one_of_each():
    assert holdout.control_size(12, 0.2) == 2  # 2.4
    assert holdout.control_size(15, 0.1) == 2  # 1.5 rounds half to even: 2
    assert holdout.control_size(3, 0.1) == 1  # at least one control
    assert holdout.control_size(2, 0.5) == 1
    assert holdout.control_size(1, 0.1) == 0


def test_launch_freezes_live_members_and_draws_the_control_group(fresh_wh):
    cid = june_campaign()
    assert campaigns.get(cid)["status"] == "draft"
    assert campaigns.member_groups(cid).empty  # nothing frozen before launch
    counts = campaigns.launch(MARKETING, cid, AS_OF)
    assert counts == {"members": 12, "treatment": 10, "control": 2}
    groups = campaigns.member_groups(cid)
    assert groups["customer_id"].tolist() == LIVE
    control = set(groups.loc[groups["holdout"], "customer_id"].astype(int))
    assert control == holdout.control_ids(cid, LIVE, 0.2) == {7, 11}
    row = warehouse.one("SELECT * FROM audit_log WHERE action = 'campaign.launch'")
    assert row["username"] == "marketing"
    assert row["detail"]["control"] == 2 and row["detail"]["treatment"] == 10


def test_launching_the_same_campaign_again_holds_out_the_same_customers(fresh_wh):
    cid = june_campaign()
    campaigns.launch(MARKETING, cid, AS_OF)
    first = campaigns.member_groups(cid)
    with warehouse.transaction() as tx:
        tx.run("DELETE FROM campaign_members")
        tx.run("UPDATE campaigns SET status = 'draft'")
    campaigns.launch(MARKETING, cid, AS_OF)
    assert campaigns.member_groups(cid).equals(first)


def test_a_launched_campaign_cannot_be_launched_again(fresh_wh):
    cid = june_campaign()
    campaigns.launch(MARKETING, cid, AS_OF)
    with pytest.raises(campaigns.CampaignError, match="already launched"):
        campaigns.launch(MARKETING, cid, AS_OF)


def test_deleted_customers_are_not_members(fresh_wh):
    with warehouse.transaction() as tx:
        tx.run("UPDATE customers SET deleted_at = TIMESTAMP '2026-06-01 00:00:00' WHERE customer_id = 3")
    cid = june_campaign()
    campaigns.launch(MARKETING, cid, AS_OF)
    assert 3 not in campaigns.member_groups(cid)["customer_id"].tolist()


def test_campaign_plans_are_validated(fresh_wh):
    with pytest.raises(campaigns.CampaignError, match="channel"):
        campaigns.create(MARKETING, "x", "fax", date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), EVERYONE)
    with pytest.raises(campaigns.CampaignError, match="before it starts"):
        campaigns.create(MARKETING, "x", "sms", date(2026, 6, 5), date(2026, 6, 2), date(2026, 6, 30), EVERYONE)
    with pytest.raises(campaigns.CampaignError, match="evaluation window"):
        campaigns.create(MARKETING, "x", "sms", date(2026, 6, 1), date(2026, 6, 9), date(2026, 6, 3), EVERYONE)
    with pytest.raises(campaigns.CampaignError, match="control group"):
        campaigns.create(MARKETING, "x", "sms", date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), EVERYONE, 0.9)


def test_the_default_holdout_share_is_ten_percent(fresh_wh):
    cid = campaigns.create(MARKETING, "x", "sms", date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), EVERYONE)
    assert campaigns.get(cid)["holdout_share"] == 0.10


def test_managers_cannot_create_or_launch(fresh_wh):
    with pytest.raises(auth.PermissionDenied):
        campaigns.create(MANAGER, "x", "sms", date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), EVERYONE)
    cid = june_campaign()
    with pytest.raises(auth.PermissionDenied):
        campaigns.launch(MANAGER, cid, AS_OF)
    assert campaigns.get(cid)["status"] == "draft"


# ---------------------------------------------------------------- win-back from the at-risk list


def _scores(tiers: dict[int, str]) -> None:
    with warehouse.transaction() as tx:
        for cid, tier in tiers.items():
            tx.run(
                "INSERT INTO churn_scores (customer_id, model_id, as_of, probability, risk_tier, reasons)"
                " VALUES (:c, 1, DATE '2026-06-30', 0.5, :t, ['recency'])",
                c=cid,
                t=tier,
            )


def test_a_winback_draft_holds_the_at_risk_list_and_launches_on_the_still_live_part(fresh_wh):
    _scores({7: "high", 8: "high", 9: "high", 10: "high", 4: "medium", 12: "high"})  # 12 merged
    cid = campaigns.create_winback(MARKETING, "Win back", "sms", date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30))
    row = campaigns.get(cid)
    assert row["kind"] == "winback" and row["definition"] == {"churn_risk_tiers": ["high"]}
    assert campaigns.member_groups(cid)["customer_id"].tolist() == [7, 8, 9, 10]
    assert campaigns.member_groups(cid)["holdout"].isna().all()  # drawn at launch, not before
    with warehouse.transaction() as tx:
        tx.run("UPDATE customers SET deleted_at = TIMESTAMP '2026-06-02 00:00:00' WHERE customer_id = 9")
    assert campaigns.launch(MARKETING, cid) == {"members": 3, "treatment": 2, "control": 1}
    groups = campaigns.member_groups(cid)
    assert groups["customer_id"].tolist() == [7, 8, 10]
    assert set(groups.loc[groups["holdout"], "customer_id"]) == holdout.control_ids(cid, [7, 8, 10], 0.10)


def test_a_winback_draft_needs_scored_customers(fresh_wh):
    with pytest.raises(campaigns.CampaignError, match="at-risk list is empty"):
        campaigns.create_winback(MARKETING, "Win back", "sms", date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30))


# ---------------------------------------------------------------- statuses


def test_statuses_draft_awaiting_approval_launched_finished(fresh_wh):
    draft = june_campaign()
    running = campaigns.create(
        MARKETING, "Running", "sms", date(2026, 6, 20), date(2026, 6, 25), date(2026, 7, 20), EVERYONE
    )
    waiting = campaigns.create(
        MARKETING, "Waiting", "sms", date(2026, 6, 20), date(2026, 6, 25), date(2026, 7, 20), EVERYONE
    )
    done = june_campaign()
    for cid in (running, waiting, done):
        campaigns.launch(MARKETING, cid, AS_OF)
    from lib.marketing import contact_exports

    contact_exports.request(MARKETING, waiting, "July reminder by SMS")
    status = campaigns.list_campaigns(AS_OF).set_index("campaign_id")["display_status"].to_dict()
    assert status == {draft: "draft", running: "launched", waiting: "awaiting_approval", done: "finished"}


# ---------------------------------------------------------------- uplift, by hand


def _hand_campaign() -> int:
    """Treatment 10 (ids 101-110), control 5 (ids 201-205), window 1-30 June 2026.

    Treatment buyers 101-104 spend 100, 200, 300, 400 (104's 400 = two orders, 150 + 250);
    control buyer 201 spends 100 (net of a 20 refund on 120). Noise: orders before and after
    the window, a cancelled and a refunded order inside it, a deleted treatment member (111)
    with an order, and a member of another campaign."""
    with warehouse.transaction() as tx:
        for cid in [*range(101, 112), *range(201, 206), 301]:
            f.customer(tx, cid)
        tx.run(
            "INSERT INTO campaigns (campaign_id, name, kind, channel, start_date, end_date, eval_end,"
            " holdout_share, status, created_by) VALUES (1, 'Hand', 'segment', 'sms', DATE '2026-06-01',"
            " DATE '2026-06-07', DATE '2026-06-30', 0.33, 'launched', 'test'),"
            " (2, 'Other', 'segment', 'sms', DATE '2026-06-01', DATE '2026-06-07', DATE '2026-06-30', 0.1,"
            " 'launched', 'test')"
        )
        for cid in range(101, 112):
            tx.run("INSERT INTO campaign_members VALUES (1, :c, false)", c=cid)
        for cid in range(201, 206):
            tx.run("INSERT INTO campaign_members VALUES (1, :c, true)", c=cid)
        tx.run("INSERT INTO campaign_members VALUES (2, 301, false)")
        tx.run("UPDATE customers SET deleted_at = TIMESTAMP '2026-06-15 00:00:00' WHERE customer_id = 111")
        f.order(tx, 101, datetime(2026, 6, 1, 0, 0), 100)  # first instant of the window
        f.order(tx, 102, datetime(2026, 6, 10), 200)
        f.order(tx, 103, datetime(2026, 6, 30, 23, 59), 300)  # last minute of the window
        f.order(tx, 104, datetime(2026, 6, 3), 150)
        f.order(tx, 104, datetime(2026, 6, 4), 250)
        f.order(tx, 201, datetime(2026, 6, 12), 120, status="partially_refunded", refund=20)
        f.order(tx, 105, datetime(2026, 5, 31, 23, 59), 999)  # before
        f.order(tx, 106, datetime(2026, 7, 1), 999)  # after
        f.order(tx, 107, datetime(2026, 6, 5), 999, status="cancelled")
        f.order(tx, 202, datetime(2026, 6, 5), 999, status="refunded", refund=999)
        f.order(tx, 111, datetime(2026, 6, 5), 999)  # deleted member
        f.order(tx, 301, datetime(2026, 6, 5), 999)  # another campaign's member
    return 1


def test_uplift_groups_count_window_purchases_only(empty_wh):
    cid = _hand_campaign()
    result = campaigns.results(cid, date(2026, 11, 1))
    assert result.treatment == uplift.Group(
        customers=10, buyers=4, revenue=1000.0, revenue_sq=10_000 + 40_000 + 90_000 + 160_000
    )
    assert result.control == uplift.Group(customers=5, buyers=1, revenue=100.0, revenue_sq=10_000.0)
    assert result.complete
    assert result.treatment.purchase_rate == 0.4 and result.control.purchase_rate == 0.2
    assert result.treatment.revenue_per_customer == 100.0 and result.control.revenue_per_customer == 20.0


def test_purchase_rate_uplift_and_its_interval_by_hand(empty_wh):
    result = campaigns.results(_hand_campaign(), date(2026, 11, 1))
    # se = sqrt(0.4*0.6/10 + 0.2*0.8/5) = sqrt(0.056) = 0.236643; z = 1.959964
    # 0.2 -/+ 0.463812
    ci = result.purchase_rate
    assert ci.difference == pytest.approx(0.2)
    assert ci.low == pytest.approx(0.2 - 1.959964 * math.sqrt(0.056), abs=1e-6)
    assert ci.low == pytest.approx(-0.263812, abs=1e-6)
    assert ci.high == pytest.approx(0.663812, abs=1e-6)
    assert ci.verdict == uplift.NO_EFFECT == result.verdict


def test_revenue_uplift_is_welchs_interval(empty_wh):
    result = campaigns.results(_hand_campaign(), date(2026, 11, 1))
    # variances: treatment (300000 - 10*100^2)/9 = 22222.22, control (10000 - 5*20^2)/4 = 2000
    # se^2 = 2222.22 + 400 = 2622.22 (se 51.208); dof = 2622.22^2 / (2222.22^2/9 + 400^2/4) = 11.680;
    # t(0.975, 11.680) = 2.18545, so 80 -/+ 111.912
    ci = result.revenue_per_customer
    se = math.sqrt(22222.2222 / 10 + 2000 / 5)
    dof = (2622.2222**2) / (2222.2222**2 / 9 + 400**2 / 4)
    assert dof == pytest.approx(11.680, abs=1e-3)
    half = stats.t.ppf(0.975, dof) * se
    assert ci.difference == 80.0
    assert (ci.low, ci.high) == (pytest.approx(80 - half, abs=1e-3), pytest.approx(80 + half, abs=1e-3))
    assert (ci.low, ci.high) == (pytest.approx(-31.91, abs=0.01), pytest.approx(191.91, abs=0.01))
    # the same as scipy's Welch test on the per-member values
    treated = np.array([100, 200, 300, 400, 0, 0, 0, 0, 0, 0], dtype=float)
    control = np.array([100, 0, 0, 0, 0], dtype=float)
    reference = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(0.95)
    assert (ci.low, ci.high) == (pytest.approx(reference.low), pytest.approx(reference.high))


def test_an_interval_above_zero_says_the_campaign_raised_purchases():
    treated, control = uplift.Group(1000, 300, 0, 0), uplift.Group(100, 15, 0, 0)
    ci = uplift.rate_interval(treated, control)
    # se = sqrt(0.3*0.7/1000 + 0.15*0.85/100) = sqrt(0.001485) = 0.038536
    assert (ci.low, ci.high) == (pytest.approx(0.074471, abs=1e-6), pytest.approx(0.225529, abs=1e-6))
    assert ci.verdict == uplift.RAISED
    assert uplift.rate_interval(control, uplift.Group(1000, 300, 0, 0)).verdict == uplift.LOWERED
    assert uplift.rate_interval(uplift.Group(1, 1, 0, 0), control).verdict == uplift.TOO_FEW


def test_verdicts_in_plain_language():
    assert i18n.t("campaigns.verdict.no_effect", lang="en") == "Not distinguishable from no campaign"
    assert i18n.t("campaigns.verdict.raised", lang="en") == "The campaign raised purchases"
    assert i18n.t("campaigns.verdict.no_effect", lang="zh") == "与未开展活动无法区分"


def test_an_open_window_gives_interim_figures(empty_wh):
    result = campaigns.results(_hand_campaign(), date(2026, 6, 10))
    assert not result.complete and result.window_end == date(2026, 6, 10)
    assert result.treatment.buyers == 3  # 101 (1 June), 102 (10 June), 104 (3-4 June)


def test_a_draft_has_no_results(fresh_wh):
    with pytest.raises(campaigns.CampaignError, match="draft"):
        campaigns.results(june_campaign(), AS_OF)


def test_the_sql_draw_at_launch_is_the_reference_draw(empty_wh):
    """Launch draws the control group in SQL; it must be exactly lib/core/holdout.py's draw."""
    with warehouse.transaction() as tx:
        for cid in range(1, 401):
            f.customer(tx, cid * 7919 % 100_003)  # scattered ids
    for _ in range(3):  # campaigns 1, 2, 3
        cid = campaigns.create(
            MARKETING, "Everyone", "sms", date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30), EVERYONE, 0.15
        )
        assert campaigns.launch(MARKETING, cid, AS_OF) == {"members": 400, "treatment": 340, "control": 60}
        groups = campaigns.member_groups(cid)
        drawn = set(groups.loc[groups["holdout"], "customer_id"].astype(int))
        assert drawn == holdout.control_ids(cid, groups["customer_id"].astype(int).tolist(), 0.15)
