"""The demo's past campaigns (issue #18): three with an effect and one without, told apart by
the uplift; the control groups are the real holdout; every other demo table byte-identical."""

from __future__ import annotations

import os

import pytest

from lib import demo
from lib.core import holdout, warehouse
from lib.demo import campaigns as demo_campaigns
from lib.marketing import campaigns, uplift

N, SEED = 3000, 11
TABLES = ("customers", "orders", "events", "consents", "demo_ground_truth")


def _build(path) -> dict:
    os.environ["C360_DEMO"] = "1"
    warehouse.use(str(path))
    try:
        demo.build(N, SEED, demo.DEFAULT_AS_OF)
        prints = demo.fingerprint()
        for table in ("consents", "demo_ground_truth"):
            prints[table] = warehouse.scalar(
                f"SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))) FROM {table} t"
            )
        return prints
    finally:
        warehouse.dispose()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-campaigns") / "demo.duckdb"
    prints = _build(path)
    yield path, prints
    warehouse.dispose()
    warehouse.use(None)


@pytest.fixture
def db(built):
    warehouse.use(str(built[0]))
    yield built
    warehouse.dispose()
    warehouse.use(None)


def test_three_campaigns_worked_and_one_did_not(db):
    frame = campaigns.list_campaigns(demo.DEFAULT_AS_OF)
    assert len(frame) == 4 and set(frame["display_status"]) == {"finished"}
    verdicts = {
        row["name"]: campaigns.results(row["campaign_id"], demo.DEFAULT_AS_OF).verdict
        for row in frame.to_dict("records")
    }
    assert verdicts == {
        "春季流失挽回短信 Spring win-back SMS": uplift.RAISED,
        "618 会员专享邮件 618 member offer": uplift.RAISED,
        "开学季短信 Back-to-school SMS": uplift.RAISED,
        "秋季资讯邮件 Autumn newsletter": uplift.NO_EFFECT,
    }
    newsletter = campaigns.results(int(frame.loc[frame["name"].str.contains("Autumn"), "campaign_id"].iloc[0]))
    assert newsletter.purchase_rate.low < 0 < newsletter.purchase_rate.high
    assert abs(newsletter.treatment.purchase_rate - newsletter.control.purchase_rate) < 0.01


def test_each_control_group_is_the_holdout_of_its_members(db):
    for cid in campaigns.list_campaigns()["campaign_id"].astype(int):
        groups = campaigns.member_groups(cid)
        control = set(groups.loc[groups["holdout"], "customer_id"].astype(int))
        assert control == holdout.control_ids(cid, groups["customer_id"].astype(int).tolist(), 0.10)
        assert len(control) == holdout.control_size(len(groups), 0.10)


def test_the_campaigns_change_no_other_demo_table(built, tmp_path, monkeypatch):
    monkeypatch.setattr(demo_campaigns, "add", lambda seed, as_of: [])
    without = _build(tmp_path / "plain.duckdb")
    assert {t: built[1][t] for t in TABLES} == {t: without[t] for t in TABLES}
    warehouse.use(str(tmp_path / "plain.duckdb"))
    assert warehouse.scalar("SELECT count(*) FROM campaigns") == 0
    warehouse.dispose()
    warehouse.use(None)
