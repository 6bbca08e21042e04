"""Feedback on a lake (migration 0018 rebuilt `imports` without its CHECK on kind): a survey
import round trip, a hand-entered response (INSERT ... RETURNING), NPS, and `lake check`
finding no violation (no stale CHECK on imports.kind)."""

from __future__ import annotations

from datetime import date

from lib.core import warehouse
from lib.dashboards import aggregates
from lib.dashboards import feedback as fb_metrics
from lib.dashboards.filters import Filters
from lib.stewardship import feedback, importer
from tests.lake.conftest import cli

CUSTOMERS = "customer_id,name,mobile\nK1,王芳,13812345678\nK2,李娜,13912345678\n"
SURVEY = (
    "response_id,member_id,scale,score,time\n"
    "S1,K1,nps,10,2026-02-01\n"
    "S2,K2,nps,3,2026-02-02\n"
    "S3,K2,nps,11,2026-02-03\n"
    "S4,K9,csat,4,2026-02-03\n"
)


def test_a_survey_import_hand_entry_and_nps_on_a_lake(lake_spec, tmp_path, users):
    steward = users["steward"]
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "survey.csv").write_text(SURVEY, encoding="utf-8")
    importer.import_file(steward, "customers", tmp_path / "customers.csv", "crm", match_duplicates=False)
    first = importer.import_file(steward, "feedback", tmp_path / "survey.csv", "crm")
    assert (first.rows_loaded, first.rows_quarantined) == (2, 2)  # S3 out of scale, S4 unknown customer
    again = importer.import_file(steward, "feedback", tmp_path / "survey.csv", "crm")
    assert (again.rows_loaded, again.rows_unchanged, again.rows_quarantined) == (0, 2, 0)
    k1 = int(warehouse.scalar("SELECT customer_id FROM customers WHERE source_record_id = 'K1'"))
    new_id = feedback.add_feedback(steward, k1, {"scale": "csat", "score": "5", "responded_at": "2026-02-05"})
    assert warehouse.scalar("SELECT score FROM feedback WHERE feedback_id = :f", f=new_id) == 5
    aggregates.refresh()
    s = fb_metrics.summary(Filters(date(2026, 1, 1), date(2026, 3, 31)))
    assert (s["nps"]["value"], s["nps"]["responses"], s["csat"]["value"]) == (0.0, 2, 1.0)
    assert warehouse.scalar("SELECT count(*) FROM imports WHERE kind = 'feedback'") == 2
    assert cli("--warehouse", lake_spec, "lake", "check").returncode == 0
