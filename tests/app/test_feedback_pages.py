"""Feedback on the pages: the Overview's NPS / CSAT cards with their response counts, the 360°
page's latest scores and hand-entry form, and the stewards' detractor worklist.

Responses added to the dashboards fixture (as_of 2026-06-30; the Overview's default period is
2025-06-01..2026-05-31):
  1  nps 10 @ 2026-01-05                    promoter
  2  nps 4 @ 2026-05-10 ("太慢了")          detractor
  4  nps 9 @ 2025-08-01, csat 5 @ 2026-02-01 promoter; satisfied
  -> NPS = 100 x (2 - 1) / 3 = +33 over 3 responses; CSAT 1 of 1 = 100.0 %.
"""

from __future__ import annotations

from datetime import datetime as dt

import pytest

from lib.core import warehouse
from tests import dashboards_fixture as fixture
from tests.app.helpers import as_user, open_page

RESPONSES = [
    (1, "nps", 10, dt(2026, 1, 5, 10), None),
    (2, "nps", 4, dt(2026, 5, 10, 10), "太慢了"),
    (4, "nps", 9, dt(2025, 8, 1, 10), None),
    (4, "csat", 5, dt(2026, 2, 1, 10), None),
]


@pytest.fixture
def small(warehouse_path):
    fixture.build()
    with warehouse.transaction() as tx:
        for i, (cid, scale, score, when, comment) in enumerate(RESPONSES):
            tx.run(
                "INSERT INTO feedback (customer_id, survey, scale, score, comment, responded_at, channel, source,"
                " source_record_id, recorded_by) VALUES (:c, :sv, :sc, :s, :cm, :t, 'sms', 'test', :k, 'test')",
                c=cid,
                sv="post_purchase_nps" if scale == "nps" else "service_csat",
                sc=scale,
                s=score,
                cm=comment,
                t=when,
                k=f"R{i}",
            )
    return warehouse_path


@pytest.mark.parametrize("username", ["manager", "marketing", "steward", "admin"])
def test_the_overview_shows_nps_and_csat_with_their_response_counts(small, username):
    at = open_page(as_user(username), "pages/01_overview.py")
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["NPS · 3 responses"] == "+33"
    assert cards["CSAT · 1 responses"] == "100.0%"


def test_the_overview_feedback_follows_the_sidebar_filters(small):
    at = as_user("manager")
    at.query_params["ch"] = "app"  # only customer 2 (the detractor) came through the app
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["NPS · 1 responses"] == "-100"
    assert cards["CSAT · 0 responses"] == "—"  # no responses: the shared empty-value dash


def test_the_overview_feedback_view_draws_the_monthly_trend(small):
    at = as_user("manager")
    at.query_params["view"] = "Customer feedback"
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    assert [c.key for c in at.get("plotly_chart")] == ["trend_feedback_chart"]


def _open_360(username: str, cid: int):
    at = as_user(username)
    at.query_params["id"] = str(cid)
    return open_page(at, "pages/03_customer_360.py")


def test_the_360_page_shows_the_latest_scores_and_comments(small):
    at = _open_360("manager", 2)
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Latest NPS score"] == "4 · Detractor"
    assert cards["Latest CSAT score"] == "—"  # no responses: the shared empty-value dash
    table = next(d.value for d in at.dataframe if "Comment" in d.value.columns)
    assert table[["Survey", "Scale", "Score", "Comment"]].values.tolist() == [
        ["Post-purchase NPS survey", "NPS (0-10)", 4, "太慢了"]
    ]
    assert not [b for b in at.button if b.label == "Save response"]  # managers only read


def _form_widgets(at):
    scale = next(s for s in at.selectbox if s.label == "Scale")
    score = next(n for n in at.number_input if n.label == "Score")
    comment = next(a for a in at.text_area if a.label == "Comment")
    save = next(b for b in at.button if b.label == "Save response")
    return scale, score, comment, save


def test_a_steward_records_a_response_on_the_360_page(small):
    at = _open_360("steward", 3)
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}[
        "Latest CSAT score"
    ] == "—"  # no responses: the shared empty-value dash
    scale, score, comment, save = _form_widgets(at)
    scale.set_value("csat")
    score.set_value(2)
    comment.input("等了很久")
    save.click()
    at.run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Response #")
    assert {m.label: m.value for m in at.metric}["Latest CSAT score"] == "2 / 5"
    row = warehouse.one("SELECT customer_id, scale, score, comment, recorded_by FROM feedback WHERE source = 'manual'")
    assert row == {"customer_id": 3, "scale": "csat", "score": 2, "comment": "等了很久", "recorded_by": "steward"}


def test_a_score_outside_the_scale_is_refused_on_the_360_page(small):
    at = _open_360("steward", 3)
    scale, score, _comment, save = _form_widgets(at)
    scale.set_value("csat")
    score.set_value(7)
    save.click()
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["Score is outside the scale (NPS 0-10, CSAT 1-5)."]
    assert warehouse.scalar("SELECT count(*) FROM feedback WHERE source = 'manual'") == 0


def test_the_worklist_lists_detractors_and_marks_them_handled(small):
    at = open_page(as_user("steward"), "pages/17_feedback.py")
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Detractors waiting for a follow-up"] == "1"
    table = at.dataframe[0].value
    assert table[["Customer", "Name", "Score", "Comment"]].values.tolist() == [[2, "李四", 4, "太慢了"]]
    next(a for a in at.text_area if a.label == "What was done").input("已回电致歉")
    next(b for b in at.button if b.label == "Mark handled").click()
    at.run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Detractors waiting for a follow-up"] == "0"
    assert warehouse.one("SELECT handled_by, handled_note FROM feedback WHERE customer_id = 2") == {
        "handled_by": "steward",
        "handled_note": "已回电致歉",
    }
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'feedback.handle'") == 1


@pytest.mark.parametrize("username", ["manager", "marketing"])
def test_the_worklist_page_is_for_stewards(small, username):
    at = open_page(as_user(username), "pages/17_feedback.py")
    assert not at.exception, at.exception
    assert len(at.dataframe) == 0 and len(at.metric) == 0


def test_the_import_page_offers_feedback_and_releases_a_corrected_response(small, tmp_path, users):
    from lib.stewardship import importer

    csv = tmp_path / "survey.csv"
    csv.write_text("response_id,member_id,scale,score,time\nS1,T2,nps,11,2026-05-01\n", encoding="utf-8")
    result = importer.import_file(users["steward"], "feedback", csv, "test")
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    qid = int(importer.quarantine(users["steward"], kind="feedback").iloc[0]["quarantine_id"])
    at = open_page(as_user("steward"), "pages/10_import.py")
    at.selectbox(key="imp_kind").set_value("feedback").run()
    assert not at.exception, at.exception
    assert "Survey responses (NPS / CSAT)" in [o for o in at.selectbox(key="imp_kind").options]
    assert "Score is outside the scale (NPS 0-10, CSAT 1-5)." in [w.value for w in at.warning]
    at.text_input(key=f"q_{qid}_score").input("10")
    next(b for b in at.button if b.label == "Validate and release").click().run()
    assert not at.exception and not at.error
    assert warehouse.one("SELECT customer_id, score FROM feedback WHERE source_record_id = 'S1'") == {
        "customer_id": 2,
        "score": 10,
    }
