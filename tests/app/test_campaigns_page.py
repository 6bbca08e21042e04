"""AppTest of the campaigns page on the small demo warehouse: the demo's past campaigns told
apart, a draft created and launched, a contact export asked for and approved by a second
person, the win-back button on the churn page; other roles refused."""

from __future__ import annotations

import os
import shutil

import pytest

from lib.core import settings, warehouse
from lib.marketing import campaigns, churn, contact_exports, segments
from lib.security import auth
from tests import marketing_fixture as mf
from tests.app.helpers import as_user, open_page

PAGE = "pages/24_campaigns.py"
LAPSED = {"op": "and", "conditions": [{"field": "lifecycle_stage", "operator": "eq", "value": "churned"}]}


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory):
    path = mf.demo_copy(tmp_path_factory, tmp_path_factory.mktemp("campaigns-app") / "demo.duckdb")
    warehouse.use(str(path))
    warehouse.migrate()
    if churn.tier_summary().empty:
        churn.train(auth.SYSTEM, None, 90)
        churn.score(auth.SYSTEM, None, 90)
    segments.save(auth.SYSTEM, "Churned customers", LAPSED)
    warehouse.checkpoint()
    warehouse.dispose()
    warehouse.use(None)
    return path


@pytest.fixture
def wh(demo_base, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_base, path)
    warehouse.use(str(path))
    os.environ["C360_WAREHOUSE"] = str(path)
    yield path
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)


def texts(at) -> str:
    return " ".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [s.value for s in at.success]
        + [i.value for i in at.info]
        + [e.value for e in at.error]
    )


def by_name(fragment: str) -> int:
    frame = campaigns.list_campaigns()
    return int(frame.loc[frame["name"].str.contains(fragment, regex=False), "campaign_id"].iloc[0])


@pytest.mark.parametrize("role", ["steward"])
def test_other_roles_are_refused(wh, role):
    at = open_page(as_user(role), PAGE)
    assert not at.exception
    assert any("do not allow" in e.value for e in at.error)
    assert len(at.dataframe) == 0


def test_the_demo_campaigns_are_listed_and_told_apart(wh):
    at = open_page(as_user("marketing"), PAGE)
    assert not at.exception
    listing = at.dataframe[0].value
    assert len(listing) == 4 and set(listing["Status"]) == {"Finished"}
    assert [m.value for m in at.metric][:4] == ["0", "0", "0", "4"]  # draft, awaiting, launched, finished
    at.selectbox(key="campaign_pick").set_value(by_name("618")).run()
    assert not at.exception
    assert [s.value for s in at.success][0].startswith("The campaign raised purchases")
    assert "Uplift in purchase rate" in [m.label for m in at.metric]
    assert "95% interval" in texts(at)
    at.selectbox(key="campaign_pick").set_value(by_name("Autumn newsletter")).run()
    assert not at.exception
    assert not at.success
    assert any(i.value.startswith("Not distinguishable from no campaign") for i in at.info)


def test_marketing_creates_and_launches_a_campaign(wh):
    at = open_page(as_user("marketing"), PAGE)
    name_box = next(t for t in at.text_input if t.label == "Campaign name")
    name_box.input("Lapsed SMS test")
    next(s for s in at.selectbox if s.label == "Saved segment").set_value("Churned customers")
    next(b for b in at.button if b.label == "Create draft").click().run()
    assert not at.exception
    cid = by_name("Lapsed SMS test")
    assert at.selectbox(key="campaign_pick").value == cid
    assert campaigns.get(cid)["status"] == "draft"
    next(b for b in at.button if b.label == "Launch campaign").click().run()
    assert not at.exception
    counts = campaigns.list_campaigns().set_index("campaign_id").loc[cid]
    expected = len(segments.member_ids(LAPSED, settings.as_of()))
    assert counts["members"] == expected > 0
    assert counts["control"] == round(expected * 0.1)
    assert f"Launched: {expected:,} members" in texts(at)
    assert (
        warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'campaign.launch' AND username = 'marketing'")
        == 1
    )


def launched(name: str, start=None, end=None, eval_end=None) -> int:
    """A launched SMS campaign to the demo's churned customers (dates default to the as-of day)."""
    day = settings.as_of()
    cid = campaigns.create(
        auth.User("marketing", "Li Na", frozenset({"marketing"})), name, "sms",
        start or day, end or day, eval_end or day, "Churned customers",
    )  # fmt: skip
    campaigns.launch(auth.SYSTEM, cid)
    return cid


def test_a_contact_list_is_approved_by_a_manager_then_downloadable(wh):
    cid = launched("To export")
    at = open_page(as_user("marketing"), PAGE)
    at.selectbox(key="campaign_pick").set_value(cid).run()
    next(t for t in at.text_input if t.label == "Purpose of the list").input("Win-back SMS via our gateway")
    next(b for b in at.button if b.label == "Request the contact list").click().run()
    assert not at.exception
    assert contact_exports.of_campaign(cid).iloc[0]["status"] == "requested"
    assert not [b for b in at.get("download_button")]
    mgr = open_page(as_user("manager"), PAGE)
    assert "Contact lists waiting for your approval" in [h.value for h in mgr.subheader]
    next(b for b in mgr.button if b.label == "Approve").click().run()
    assert not mgr.exception
    assert contact_exports.of_campaign(cid).iloc[0]["decided_by"] == "manager"
    at.run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == [f"Download contact list (request {int(contact_exports.of_campaign(cid).iloc[0]['export_id'])})"]


def test_a_too_short_purpose_is_refused_in_the_readers_language_and_kept(wh):
    from lib.core import i18n

    cid = launched("Short purpose")
    at = as_user("marketing")
    at.session_state["lang"] = "zh"  # the language chosen before the page opens
    i18n.set_language("zh")  # and in this thread, where AppTest formats the widgets' values
    try:
        open_page(at, PAGE)
        at.selectbox(key="campaign_pick").set_value(cid).run()
        at.text_input(key="campaign_purpose").input("短信提醒第一批")
        next(b for b in at.button if b.label == i18n.t("campaigns.request", "zh")).click().run()
        assert not at.exception
        assert [e.value for e in at.error] == ["请说明名单的用途（至少 10 个字）。"]
        assert at.text_input(key="campaign_purpose").value == "短信提醒第一批"  # not typed again
        assert contact_exports.of_campaign(cid).empty
    finally:
        i18n.set_language("en")


def test_a_campaign_that_starts_tomorrow_shows_no_results_yet(wh):
    from datetime import timedelta

    day = settings.as_of() + timedelta(days=1)
    cid = launched("Starts tomorrow", day, day + timedelta(days=6), day + timedelta(days=29))
    at = open_page(as_user("marketing"), PAGE)
    at.selectbox(key="campaign_pick").set_value(cid).run()
    assert not at.exception
    assert f"Sending starts on {day}: results appear from then on." in [i.value for i in at.info]
    assert not [m for m in at.markdown if "Purchases from" in m.value]  # no window ending before it starts


def test_the_churn_page_starts_a_winback_draft(wh):
    at = open_page(as_user("marketing"), "pages/23_churn.py")
    next(b for b in at.button if b.label.startswith("Create a win-back campaign")).click().run()
    assert not at.exception
    frame = campaigns.list_campaigns()
    draft = frame[frame["kind"] == "winback"].sort_values("campaign_id").iloc[-1]
    assert draft["status"] == "draft" and draft["name"].startswith("Win-back")
    high = int(churn.tier_summary().set_index("risk_tier").loc["high", "customers"])
    assert draft["members"] == high
