"""AppTest of issue #16's forms: "Log interaction" and "Record consent" on the 360° page,
My follow-ups, and the review queue's bulk selection (valid, invalid, refused role)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from lib.core import warehouse
from lib.security import auth
from lib.stewardship import importer, interactions, quality, review
from tests import factories
from tests.app.helpers import as_user, open_page
from tests.stewards_fixtures import _stw_root, stw_empty, stw_wh  # noqa: F401 - fixtures


def button(at, label):
    return next(b for b in at.button if b.label == label)


def tab_labels(at) -> list[str]:
    return [tab.label for tab in at.tabs]


@pytest.fixture
def one(stw_empty):
    with warehouse.transaction() as tx:
        factories.customer(tx, 1, source="crm", source_record_id="C1", mobile="+8613800000001")
        factories.event(tx, 1, "consult", datetime(2026, 1, 2, 9, 0), channel="phone", note="size question")
    return stw_empty


def open_360(username: str, tab: str | None = None):
    """The 360° page of customer 1, with `tab` open (only the open tab is built)."""
    at = as_user(username)
    at.query_params["id"] = "1"
    if tab:
        at.session_state["c360_tab"] = tab
    return open_page(at, "pages/03_customer_360.py")


def test_a_steward_logs_a_call_with_a_follow_up_from_the_360_page(one):
    at = open_360("steward", "Interactions")
    assert not at.exception
    assert tab_labels(at) == ["Orders", "Interactions", "Change history", "Record consent"]
    # the unified timeline already shows the consult that arrived as an event
    timeline = next(df.value for df in at.dataframe if "Recorded as" in df.value.columns)
    assert timeline["Note"].tolist() == ["size question"]
    at.selectbox(key="ixn_type").set_value("call")
    at.selectbox(key="ixn_channel").set_value("phone")
    at.selectbox(key="ixn_outcome").set_value("follow_up")
    at.text_area(key="ixn_note").input("wants the new catalogue")
    at.checkbox(key="ixn_follow").check()
    at.date_input(key="ixn_due").set_value(date.today() + timedelta(days=3))
    button(at, "Save interaction").click().run()
    assert not at.exception
    saved = warehouse.records("SELECT interaction_type, channel, outcome, owner, note, follow_up_on FROM interactions")
    assert saved == [
        {
            "interaction_type": "call",
            "channel": "phone",
            "outcome": "follow_up",
            "owner": "steward",
            "note": "wants the new catalogue",
            "follow_up_on": date.today() + timedelta(days=3),
        }
    ]
    assert any("saved" in s.value for s in at.success)
    timeline = next(df.value for df in at.dataframe if "Recorded as" in df.value.columns)
    assert timeline["Recorded as"].tolist() == ["Logged", "Event"]
    assert timeline["Type"].tolist() == ["Call", "Consult"]
    assert timeline["Note"].tolist() == ["wants the new catalogue", "size question"]
    # empty cells read "—" (i18n.display_frame)
    assert timeline["Follow-up date"].tolist() == [(date.today() + timedelta(days=3)).isoformat(), "—"]
    assert timeline["Owner"].tolist()[1] == "—" and timeline["When"].tolist()[1] == "2026-01-02 09:00"


def test_an_invalid_interaction_shows_the_field_message_and_saves_nothing(one):
    at = open_360("steward", "Interactions")
    at.date_input(key="ixn_date").set_value(date.today() + timedelta(days=2))
    at.checkbox(key="ixn_follow").check()
    at.date_input(key="ixn_due").set_value(date.today() - timedelta(days=1))
    button(at, "Save interaction").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "When: When is in the future.",
        "Follow-up date: Follow-up date is in the past.",
    ]
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 0


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_roles_without_the_actions_see_the_timeline_but_no_forms(one, role):
    at = open_360(role, "Interactions")
    assert not at.exception
    assert tab_labels(at) == ["Orders", "Interactions", "Change history"]
    assert any("Recorded as" in df.value.columns for df in at.dataframe)  # the timeline is there
    assert not [b for b in at.button if b.label in ("Save interaction", "Save consent")]


def test_a_steward_records_one_consent_and_the_profile_shows_it_in_force(one):
    at = open_360("steward", "Record consent")
    at.selectbox(key="c360_consent_channel").set_value("sms")
    at.radio(key="c360_consent_status").set_value("granted")
    at.text_input(key="c360_consent_source").input("store")
    at.text_input(key="c360_consent_evidence").input("form 881")
    button(at, "Save consent").click().run()
    assert not at.exception
    rows = warehouse.records("SELECT channel, status, source, recorded_by, evidence FROM consents")
    assert rows == [
        {"channel": "sms", "status": "granted", "source": "store", "recorded_by": "steward", "evidence": "form 881"}
    ]
    assert [s.value for s in at.success] == ["Consent saved: SMS, Granted."]
    consents = next(df.value for df in at.dataframe if "Captured via" in df.value.columns)
    assert consents[["Channel", "Status", "Recorded by", "In force"]].values.tolist() == [
        ["SMS", "Granted", "steward", True]
    ]


def test_a_consent_without_a_source_is_refused_with_a_message(one):
    at = open_360("steward", "Record consent")
    at.selectbox(key="c360_consent_channel").set_value("email")
    button(at, "Save consent").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "Say where the consent was captured" in at.error[0].value
    assert warehouse.scalar("SELECT count(*) FROM consents") == 0


# ---------------------------------------------------------------- My follow-ups


def test_my_follow_ups_lists_open_ones_and_marks_one_done(one, users):
    first = interactions.add(users["steward"], 1, "call", follow_up_on=date.today())
    second = interactions.add(users["steward"], 1, "visit", follow_up_on=date.today() + timedelta(days=4))
    interactions.add(users["admin"], 1, "note", follow_up_on=date.today())  # the admin's own
    at = open_page(as_user("steward"), "pages/16_follow_ups.py")
    assert not at.exception
    assert [m.value for m in at.metric] == ["2", "0"]
    assert at.dataframe[0].value["No."].tolist() == [first, second]
    at.selectbox(key="fu_pick").set_value(first)
    button(at, "Mark done").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Follow-up marked done."]
    assert at.dataframe[0].value["No."].tolist() == [second]
    assert [m.value for m in at.metric] == ["1", "0"]


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_my_follow_ups_is_refused_to_roles_that_do_not_log_interactions(one, role):
    at = open_page(as_user(role), "pages/16_follow_ups.py")
    assert not at.exception
    assert not at.dataframe and not [b for b in at.button if b.label == "Mark done"]


# ---------------------------------------------------------------- review queue in bulk


def test_the_review_queue_verifies_selected_rows_in_one_go_and_recounts(stw_wh):
    quality.run(auth.SYSTEM)
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    assert not at.exception
    before = int(review.counts(auth.SYSTEM)["n"].sum())
    items = review.items(auth.SYSTEM, limit=50)
    # invalid mobile, invalid email, bad postcode: one open flag each (tests/stewards_fixtures.py)
    rows = [
        i for i, (k, c) in enumerate(zip(items["item_kind"], items["customer_id"])) if k == "flag" and c in (7, 8, 9)
    ]
    assert len(rows) == 3
    at.session_state["rq_table_0"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "3 quality flags selected." in [m.value for m in at.markdown]
    at.text_input(key="rq_bulk_reason").input("checked by phone")
    button(at, "Verify selected").click().run()
    assert not at.exception
    assert [s.value for s in at.success][:1] == ["3 flags verified."]
    after = int(review.counts(auth.SYSTEM)["n"].sum())
    assert after == before - 3
    assert sum(int(m.value.replace(",", "")) for m in at.metric) == after  # the cards were recounted
    chosen = items.iloc[rows]["item_id"].astype(int).tolist()
    statuses = warehouse.records(
        "SELECT DISTINCT status FROM quality_flags WHERE list_contains(CAST(:ids AS BIGINT[]), flag_id)", ids=chosen
    )
    assert statuses == [{"status": "verified"}]
    # the new table has no selection left over from before the save
    assert "3 quality flags selected." not in [m.value for m in at.markdown]


def test_a_bulk_ignore_without_a_reason_is_refused_and_changes_nothing(stw_wh):
    quality.run(auth.SYSTEM)
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    before = int(review.counts(auth.SYSTEM)["n"].sum())
    at.session_state["rq_table_0"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    button(at, "Ignore selected").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Reason: Give a reason of at least 5 characters."]
    assert int(review.counts(auth.SYSTEM)["n"].sum()) == before


# ---------------------------------------------------------------- import page


def test_the_import_page_offers_the_new_kinds_and_releases_a_fixed_consent_row(one, tmp_path, users):
    csv = tmp_path / "consents.csv"
    csv.write_text("客户编号,channel,status,time\nC1,fax,granted,2026-01-05\n", encoding="utf-8")
    result = importer.import_file(users["steward"], "consents", csv, "crm")
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    qid = int(warehouse.scalar("SELECT quarantine_id FROM quarantine"))
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert not at.exception
    at.selectbox(key="imp_kind").set_value("interactions").run()
    assert not at.exception
    at.selectbox(key="imp_kind").set_value("consents").run()
    assert not at.exception
    assert [w.value for w in at.warning if "channel" in w.value.lower()] == [
        "Channel must be sms, email or phone (短信/邮件/电话)."
    ]
    at.text_input(key=f"q_{qid}_channel").input("email")
    button(at, "Validate and release").click().run()
    assert not at.exception and not at.error
    assert warehouse.records("SELECT customer_id, channel, status FROM consents") == [
        {"customer_id": 1, "channel": "email", "status": "granted"}
    ]
    assert warehouse.scalar("SELECT status FROM quarantine") == "released"
