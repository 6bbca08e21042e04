"""Customer feedback (issue #16 item 4): NPS and CSAT against hand-computed values, the
feedback import round trip, hand entry, segment fields, the detractor worklist, erasure, and
the demo's responses.

The constructed warehouse (every number below is counted by hand from it):

  customer  channel  responses (scale score @ time)
  1         web      nps 10 @ 2026-02-01, nps 3 @ 2026-03-01, csat 5 @ 2026-03-02
  2         web      nps 9 @ 2026-02-10, csat 4 @ 2026-02-10
  6 -> 2    web      merged into 2: nps 2 @ 2026-04-01 (counts for 2, its latest)
  3         store    nps 7 @ 2026-05-05, csat 2 @ 2026-05-05
  4         store    nps 0 @ 2025-12-15, csat 3 @ 2026-01-10, csat 4 @ 2026-06-01, nps 10 @ 2026-06-30 23:00
  5         web      deleted: nps 0 @ 2026-03-03 (never counted)
  7         web      no response

Window W = 2026-01-01..2026-06-30, latest response per customer and scale:
  NPS  1: 3 (detractor), 2: 2 (detractor, via 6), 3: 7 (passive), 4: 10 (promoter)
       -> 4 responses, 1 promoter, 2 detractors: NPS = 100 x (1 - 2) / 4 = -25
  CSAT 1: 5, 2: 4, 3: 2, 4: 4 -> 3 of 4 satisfied: 75 %
Previous period 2025-07-03..2025-12-31: NPS 4: 0 -> -100 (1 response); no CSAT.
Channel = store: NPS 3 passive, 4 promoter -> +50 (2); CSAT 2, 4 -> 50 % (2).
"""

from __future__ import annotations

import json
from datetime import date, datetime as dt, timedelta

import pytest

from lib.core import validation, warehouse
from lib.dashboards import aggregates
from lib.dashboards import feedback as fb_metrics
from lib.dashboards.filters import Filters
from lib.demo.spec import DEFAULT_AS_OF
from lib.marketing import segments
from lib.security import auth, privacy
from lib.stewardship import feedback, importer
from tests import factories as fx

W = Filters(date(2026, 1, 1), date(2026, 6, 30))

RESPONSES = [
    (1, "nps", 10, dt(2026, 2, 1, 9), None),
    (1, "nps", 3, dt(2026, 3, 1, 9), "送货太慢，请回电 13812345678"),
    (1, "csat", 5, dt(2026, 3, 2, 9), None),
    (2, "nps", 9, dt(2026, 2, 10, 9), None),
    (2, "csat", 4, dt(2026, 2, 10, 9), None),
    (6, "nps", 2, dt(2026, 4, 1, 9), "再也不买了"),
    (3, "nps", 7, dt(2026, 5, 5, 9), None),
    (3, "csat", 2, dt(2026, 5, 5, 9), None),
    (4, "nps", 0, dt(2025, 12, 15, 9), None),
    (4, "csat", 3, dt(2026, 1, 10, 9), None),
    (4, "csat", 4, dt(2026, 6, 1, 9), None),
    (4, "nps", 10, dt(2026, 6, 30, 23), None),
    (5, "nps", 0, dt(2026, 3, 3, 9), None),
]


def add_response(tx, customer_id, scale, score, when, comment=None):
    tx.run(
        "INSERT INTO feedback (customer_id, survey, scale, score, comment, responded_at, channel, source,"
        " source_record_id, recorded_by) VALUES (:c, :sv, :sc, :s, :cm, :t, 'sms', 'test', :k, 'test')",
        c=customer_id,
        sv=f"{scale}_survey",
        sc=scale,
        s=score,
        cm=comment,
        t=when,
        k=f"W{customer_id}-{scale}-{when:%Y%m%d%H}",  # not a key of the survey file below
    )


@pytest.fixture
def world(warehouse_path):
    with warehouse.transaction() as tx:
        fx.customer(tx, 1, channel="web", mobile="+8613812345678")
        fx.customer(tx, 2, channel="web", full_name="李四")
        fx.customer(tx, 3, channel="store", full_name="王五")
        fx.customer(tx, 4, channel="store", full_name="赵六")
        fx.customer(tx, 5, channel="web", deleted_at=dt(2026, 4, 1))
        fx.customer(tx, 6, channel="web", merged_into=2)
        fx.customer(tx, 7, channel="web", full_name="周八")
        for row in RESPONSES:
            add_response(tx, *row)
    aggregates.refresh()
    return warehouse_path


def user(role: str) -> auth.User:
    return auth.User(role, role, frozenset({role}))


# ---------------------------------------------------------------- metrics


def test_nps_and_csat_of_the_window_match_the_hand_count(world):
    s = fb_metrics.summary(W)
    assert s["counts"] == {
        "nps_responses": 4,
        "promoters": 1,
        "passives": 1,
        "detractors": 2,
        "csat_responses": 4,
        "satisfied": 3,
        "nps": -25.0,
        "csat": 0.75,
    }
    assert s["nps"] == {"value": -25.0, "previous": -100.0, "change": 75.0, "responses": 4}
    assert s["csat"] == {"value": 0.75, "previous": None, "change": None, "responses": 4}


def test_feedback_follows_the_overview_filters(world):
    s = fb_metrics.summary(Filters(W.start, W.end, channel=("store",)))
    assert (s["nps"]["value"], s["nps"]["responses"]) == (50.0, 2)
    assert (s["csat"]["value"], s["csat"]["responses"]) == (0.5, 2)
    none = fb_metrics.summary(Filters(W.start, W.end, channel=("app",)))
    assert none["nps"] == {"value": None, "previous": None, "change": None, "responses": 0}


def test_monthly_trend_counts_each_customers_latest_response_per_month(world):
    m = fb_metrics.monthly(W)
    assert [d.isoformat()[:7] for d in m["month"]] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert m["nps_responses"].tolist() == [0, 2, 1, 1, 1, 1]
    assert m["nps"].tolist()[1:] == [100.0, -100.0, -100.0, 0.0, 100.0]
    assert m["nps"].isna().tolist()[0]
    assert m["csat_responses"].tolist() == [1, 1, 1, 0, 1, 1]
    assert m["csat"].fillna(-1).tolist() == [0.0, 1.0, 1.0, -1, 0.0, 1.0]


def test_the_formulas():
    assert fb_metrics.nps(3, 1, 8) == 25.0
    assert fb_metrics.nps(0, 0, 0) is None
    assert fb_metrics.csat(3, 4) == 0.75
    assert [feedback.nps_category(s) for s in (0, 6, 7, 8, 9, 10, None)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
        "no_response",
    ]


# ---------------------------------------------------------------- segment fields


def count(field, operator, value=None, as_of=date(2026, 7, 1)) -> int:
    definition = {"op": "and", "conditions": [{"field": field, "operator": operator, "value": value}]}
    return int(segments.stats(definition, as_of)["members"])


def test_nps_category_and_last_csat_segment_exactly(world):
    # live customers 1, 2, 3, 4, 7 (5 deleted, 6 merged into 2)
    assert count("nps_category", "eq", "detractor") == 2  # 1 (3) and 2 (2, answered as record 6)
    assert count("nps_category", "eq", "passive") == 1
    assert count("nps_category", "eq", "promoter") == 1
    assert count("nps_category", "eq", "no_response") == 1  # 7
    assert count("nps_category", "in", ["promoter", "passive"]) == 2
    assert count("last_csat", "gte", 4) == 3  # 1 (5), 2 (4), 4 (4)
    assert count("last_csat", "lte", 2) == 1  # 3
    assert count("last_csat", "is_null") == 1  # 7


def test_segment_fields_are_as_of_the_day(world):
    # on 2026-05-31 customer 4's latest NPS is the 0 of December and its CSAT the 3 of January
    assert count("nps_category", "eq", "detractor", date(2026, 5, 31)) == 3
    assert count("last_csat", "eq", 3, date(2026, 5, 31)) == 1


def test_segment_field_values_are_whitelisted():
    with pytest.raises(segments.SegmentError):
        segments.validate({"op": "and", "conditions": [{"field": "nps_category", "operator": "eq", "value": "fan"}]})
    with pytest.raises(segments.SegmentError):
        segments.validate({"op": "and", "conditions": [{"field": "last_csat", "operator": "contains", "value": "4"}]})


# ---------------------------------------------------------------- hand entry


def test_a_steward_records_a_response_and_it_is_audited_without_the_comment(world):
    fid = feedback.add_feedback(
        user("steward"),
        7,
        {
            "scale": "csat",
            "score": "5",
            "comment": "很满意，电话 13900001111",
            "channel": "Phone",
            "survey": "",
            "responded_at": "2026-06-20 15:30",
        },
    )
    row = warehouse.one("SELECT * FROM feedback WHERE feedback_id = :f", f=fid)
    assert (row["customer_id"], row["scale"], row["score"], row["survey"], row["channel"], row["source"]) == (
        7,
        "csat",
        5,
        "csat",
        "phone",
        "manual",
    )
    assert row["recorded_by"] == "steward"
    assert row["comment"] == "很满意,电话 13900001111"  # normalised as every text field (NFKC)
    entry = warehouse.one(
        "SELECT entity_id, CAST(after AS VARCHAR) a, CAST(detail AS VARCHAR) d FROM audit_log WHERE action = 'feedback.add'"
    )
    assert entry["entity_id"] == "7"
    assert json.loads(entry["d"]) == {"feedback_id": fid, "has_comment": True}
    assert "13900001111" not in entry["a"] + entry["d"]
    assert count("last_csat", "eq", 5) == 2  # 1 and now 7


def test_a_response_for_a_merged_record_goes_to_the_survivor(world):
    fid = feedback.add_feedback(user("admin"), 6, {"scale": "nps", "score": "10"})
    assert warehouse.scalar("SELECT customer_id FROM feedback WHERE feedback_id = :f", f=fid) == 2


@pytest.mark.parametrize(
    "values, field, code",
    [
        ({"scale": "csat", "score": "6"}, "score", "score.out_of_scale"),
        ({"scale": "nps", "score": "11"}, "score", "score.out_of_scale"),
        ({"scale": "nps", "score": "-1"}, "score", "score.out_of_scale"),
        ({"scale": "nps", "score": "7.5"}, "score", "score.invalid"),
        ({"scale": "nps", "score": ""}, "score", "required.missing"),
        ({"scale": "stars", "score": "4"}, "scale", "scale.invalid"),
        ({"scale": "nps", "score": "8", "comment": "x" * 2001}, "comment", "text.too_long"),
    ],
)
def test_an_invalid_response_is_refused_with_the_field_and_nothing_is_written(world, values, field, code):
    with pytest.raises(validation.ValidationError) as err:
        feedback.add_feedback(user("steward"), 7, values)
    assert [(e.field, e.code) for e in err.value.errors] == [(field, code)]
    assert warehouse.scalar("SELECT count(*) FROM feedback") == len(RESPONSES)


def test_a_deleted_or_unknown_customer_takes_no_response(world):
    for cid in (5, 999):
        with pytest.raises(feedback.FeedbackError):
            feedback.add_feedback(user("steward"), cid, {"scale": "nps", "score": "5"})


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_roles_without_record_feedback_are_refused(world, role):
    with pytest.raises(auth.PermissionDenied):
        feedback.add_feedback(user(role), 7, {"scale": "nps", "score": "5"})
    with pytest.raises(auth.PermissionDenied):
        feedback.worklist(user(role))
    with pytest.raises(auth.PermissionDenied):
        feedback.mark_handled(user(role), 1, "called back")
    assert warehouse.scalar("SELECT count(*) FROM feedback") == len(RESPONSES)
    assert warehouse.scalar("SELECT count(*) FROM feedback WHERE handled_at IS NOT NULL") == 0


def test_customer_feedback_masks_numbers_in_comments_for_roles_without_contacts(world):
    manager = feedback.customer_feedback(user("manager"), 1)
    steward = feedback.customer_feedback(user("steward"), 1)
    assert manager["score"].tolist() == [5, 3, 10]  # newest first
    assert manager["comment"].tolist()[1] == "送货太慢，请回电 138****5678"
    assert steward["comment"].tolist()[1] == "送货太慢，请回电 13812345678"
    latest = feedback.latest_scores(manager)
    assert latest["nps"] == {
        "score": 3,
        "responded_at": manager["responded_at"].iloc[1],
        "survey": "nps_survey",
        "responses": 2,
        "category": "detractor",
    }
    assert (latest["csat"]["score"], latest["csat"]["responses"]) == (5, 1)
    # the survivor's view includes the responses of the record merged into it
    assert feedback.customer_feedback(user("manager"), 2)["score"].tolist() == [2, 4, 9]


# ---------------------------------------------------------------- worklist


def test_the_worklist_holds_detractors_until_handled(world):
    steward = user("steward")
    open_ = feedback.worklist(steward)
    assert open_[["customer_id", "score"]].values.tolist() == [[2, 2], [1, 3]]  # newest first
    assert feedback.open_detractors() == 2
    first = int(open_.loc[open_["customer_id"] == 1, "feedback_id"].iloc[0])
    feedback.mark_handled(steward, first, "已回电致歉，补发优惠券")
    assert feedback.worklist(steward)["customer_id"].tolist() == [2]
    handled = feedback.worklist(steward, handled=True)
    assert handled[["customer_id", "handled_by", "handled_note"]].values.tolist() == [
        [1, "steward", "已回电致歉,补发优惠券"]  # normalised (NFKC) as every text field
    ]
    entry = warehouse.one("SELECT entity_id, CAST(detail AS VARCHAR) d FROM audit_log WHERE action = 'feedback.handle'")
    assert entry["entity_id"] == "1"
    assert json.loads(entry["d"]) == {"feedback_id": first, "score": 3, "scale": "nps"}
    with pytest.raises(feedback.FeedbackError):  # twice
        feedback.mark_handled(steward, first, "again")
    with pytest.raises(feedback.FeedbackError):  # without a note
        feedback.mark_handled(steward, int(open_["feedback_id"].iloc[0]), "  ")


def test_a_later_promoter_answer_takes_a_customer_off_the_worklist(world):
    feedback.add_feedback(user("steward"), 1, {"scale": "nps", "score": "9", "responded_at": "2026-06-15"})
    assert feedback.worklist(user("steward"))["customer_id"].tolist() == [2]


# ---------------------------------------------------------------- import


SURVEY_CSV = (
    "response_id,member_id,survey,scale,score,comment,time,channel\n"
    "R1,T1,Q1 NPS,nps,9,很好,2026-02-01 10:00,SMS\n"
    "R2,T2,Q1 NPS,NPS,11,,2026-02-01,sms\n"
    "R3,T99,Q1 NPS,nps,8,,2026-02-01,sms\n"
    "R4,T3,Q1 CSAT,满意度,4,,2026-02-02,email\n"
    "R5,T4,Q1 CSAT,csat,x,,2026-02-02,email\n"
    "R6,T3,Q1 CSAT,stars,4,,2026-02-02,email\n"
    "R7,T1,Q1 NPS,nps,12,请打我电话13800000000,2026-02-03,sms\n"
).encode()


def run_survey_import(steward, data=SURVEY_CSV):
    frame = importer.read_table(data, "survey.csv")
    plan = importer.prepare("feedback", frame, None, "test", file_name="survey.csv", file_bytes=data)
    return plan, importer.run_import(steward, plan)


def test_the_survey_file_maps_by_its_headers():
    frame = importer.read_table(SURVEY_CSV, "survey.csv")
    assert importer.suggest_mapping("feedback", frame.columns) == {
        "source_record_id": ["response_id"],
        "customer_key": ["member_id"],
        "survey": ["survey"],
        "scale": ["scale"],
        "score": ["score"],
        "comment": ["comment"],
        "responded_at": ["time"],
        "channel": ["channel"],
    }


def test_a_survey_import_loads_valid_rows_quarantines_the_rest_and_is_idempotent(world, users):
    plan, result = run_survey_import(users["steward"])
    assert (result.rows_total, result.rows_loaded, result.rows_unchanged, result.rows_quarantined) == (7, 2, 0, 5)
    loaded = warehouse.read(
        "SELECT customer_id, survey, scale, score, comment, responded_at, channel, source_record_id, import_id,"
        " recorded_by FROM feedback WHERE source_record_id IN ('R1', 'R4') AND import_id IS NOT NULL"
        " ORDER BY source_record_id"
    )
    assert loaded[["customer_id", "survey", "scale", "score", "comment", "channel"]].fillna("").values.tolist() == [
        [1, "Q1 NPS", "nps", 9, "很好", "sms"],
        [3, "Q1 CSAT", "csat", 4, "", "email"],
    ]
    assert loaded["responded_at"].tolist()[0] == dt(2026, 2, 1, 10)
    assert set(loaded["import_id"]) == {result.import_id} and set(loaded["recorded_by"]) == {"steward"}
    q = importer.quarantine(users["steward"], kind="feedback")
    reasons = {r["source_record_id"]: [x["code"] for x in json.loads(r["reasons"])] for r in q.to_dict("records")}
    assert reasons == {
        "R2": ["score.out_of_scale"],
        "R3": ["customer_key.unknown"],
        "R5": ["score.invalid"],
        "R6": ["scale.invalid"],
        "R7": ["score.out_of_scale"],
    }
    assert warehouse.scalar("SELECT kind FROM imports WHERE import_id = :i", i=result.import_id) == "feedback"

    _, again = run_survey_import(users["steward"])
    assert (again.rows_loaded, again.rows_unchanged, again.rows_quarantined) == (0, 2, 0)
    assert warehouse.scalar("SELECT count(*) FROM feedback WHERE import_id IS NOT NULL") == 2
    assert warehouse.scalar("SELECT count(*) FROM quarantine WHERE kind = 'feedback'") == 5


def test_a_quarantined_response_is_released_once_corrected(world, users):
    run_survey_import(users["steward"])
    qid = int(warehouse.scalar("SELECT quarantine_id FROM quarantine WHERE source_record_id = 'R2'"))
    with pytest.raises(validation.ValidationError):
        importer.release(users["steward"], qid, {"score": "10.5"})
    importer.release(users["steward"], qid, {"score": "10"})
    assert warehouse.one("SELECT customer_id, score FROM feedback WHERE source_record_id = 'R2'") == {
        "customer_id": 2,
        "score": 10,
    }


def test_a_survey_file_without_a_score_column_is_refused():
    data = b"member_id,scale,time\nT1,nps,2026-01-01\n"
    with pytest.raises(importer.ImportProblem):
        importer.prepare("feedback", importer.read_table(data, "s.csv"), None, "test")


# ---------------------------------------------------------------- erasure


def test_erasure_clears_comments_notes_and_quarantined_comments_but_keeps_scores(world, users):
    run_survey_import(users["steward"])
    open_ = feedback.worklist(users["steward"])
    first = int(open_.loc[open_["customer_id"] == 1, "feedback_id"].iloc[0])
    feedback.mark_handled(users["steward"], first, "called 13812345678 back")
    before = fb_metrics.summary(W)
    privacy.erase_customer(users["admin"], 1, "erasure request #7")
    rows = warehouse.read("SELECT comment, handled_note, score FROM feedback WHERE customer_id = 1 ORDER BY score")
    assert rows["comment"].isna().all() and rows["handled_note"].isna().all()
    assert rows["score"].tolist() == [3, 5, 9, 10]
    dump = warehouse.scalar("SELECT string_agg(CAST(raw AS VARCHAR), ' ') FROM quarantine")
    for secret in ("13800000000", "13812345678"):
        assert secret not in dump
    assert warehouse.scalar("SELECT CAST(raw AS VARCHAR) FROM quarantine WHERE source_record_id = 'R7'") == (
        '{"erased": true}'
    )
    assert warehouse.scalar("SELECT count(*) FROM quarantine WHERE raw::VARCHAR LIKE '%erased%'") == 1
    assert fb_metrics.summary(W)["nps"] == before["nps"]  # counts stay


def test_the_registry_lists_the_feedback_text_columns():
    cols = privacy.personal_columns()
    assert cols["feedback"] == {"comment", "handled_note"}
    assert set(privacy.NOT_PERSONAL["feedback"][0]) == {
        "survey",
        "scale",
        "channel",
        "source",
        "source_record_id",
        "recorded_by",
        "handled_by",
    }


# ---------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from lib.demo import build, fingerprint

    path = tmp_path_factory.mktemp("demo_fb") / "demo.duckdb"
    warehouse.use(str(path))
    try:
        stats = build(2_000, 7, path=str(path))
        prints = fingerprint()
        rows = warehouse.read(
            "WITH k AS (SELECT customer_id, count(*) FILTER (WHERE event_type = 'complaint') AS complaints"
            " FROM events GROUP BY 1)"
            " SELECT f.feedback_id, f.customer_id, f.scale, f.score, f.comment, f.responded_at, f.handled_at,"
            " coalesce(k.complaints, 0) AS complaints, c.lifecycle_stage, c.registered_at"
            " FROM feedback f JOIN customers c USING (customer_id) LEFT JOIN k USING (customer_id)"
            " ORDER BY f.feedback_id"
        )
        yield {"stats": stats, "fingerprint": prints, "rows": rows}
    finally:
        warehouse.dispose()
        warehouse.use(None)


def test_demo_detractors_are_more_common_among_complainers_and_churned(demo):
    nps = demo["rows"][demo["rows"]["scale"] == "nps"]
    detractor = nps["score"] <= 6
    complained = nps["complaints"] > 0
    assert detractor[complained].mean() > detractor[~complained].mean() + 0.2
    churned = nps["lifecycle_stage"] == "churned"
    assert nps.loc[churned, "score"].mean() < nps.loc[~churned & (nps["lifecycle_stage"] != "prospect"), "score"].mean()
    csat = demo["rows"][demo["rows"]["scale"] == "csat"]
    assert csat.loc[csat["complaints"] > 0, "score"].mean() < csat.loc[csat["complaints"] == 0, "score"].mean()


def test_demo_responses_are_well_formed(demo):
    rows = demo["rows"]
    assert demo["stats"]["feedback"] == len(rows) > 0
    assert rows.loc[rows["scale"] == "nps", "score"].between(0, 10).all()
    assert rows.loc[rows["scale"] == "csat", "score"].between(1, 5).all()
    assert (rows["responded_at"] >= rows["registered_at"]).all()
    assert rows["responded_at"].max() < dt.combine(DEFAULT_AS_OF, dt.min.time()) + timedelta(days=1)
    handled = rows[rows["handled_at"].notna()]
    assert (handled["scale"] == "nps").all() and (handled["score"] <= 6).all()
    assert (handled["handled_at"] > handled["responded_at"]).all()


def test_the_demo_feedback_step_leaves_every_other_table_as_it_was(demo, tmp_path):
    """Its RNG stream is its own: a build without the step has the same customers, orders and
    events, byte for byte."""
    from lib.demo import build, fingerprint
    from lib.demo import feedback as demo_feedback

    real = demo_feedback.load
    path = tmp_path / "without.duckdb"
    warehouse.use(str(path))
    try:
        demo_feedback.load = lambda *a, **k: 0
        build(2_000, 7, path=str(path))
        assert warehouse.scalar("SELECT count(*) FROM feedback") == 0
        assert fingerprint() == demo["fingerprint"]
    finally:
        demo_feedback.load = real
        warehouse.dispose()
        warehouse.use(None)


def test_the_cli_imports_a_survey_file(world, tmp_path, capsys):
    from lib import cli

    path = tmp_path / "survey.csv"
    path.write_bytes(SURVEY_CSV)
    assert cli.main(["import", "feedback", str(path), "--source", "test"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["kind"], result["rows_loaded"], result["rows_quarantined"]) == ("feedback", 2, 5)


def test_a_response_of_a_record_merged_twice_counts_for_the_last_survivor(world):
    """Record 8 merged into 6, which was merged into 2 later: 8's NPS 10 of 2026-04-02 is now
    customer 2's latest response (after 6's 2 of 2026-04-01)."""
    with warehouse.transaction() as tx:
        fx.customer(tx, 8, channel="web", merged_into=6)
        add_response(tx, 8, "nps", 10, dt(2026, 4, 2, 9))
    aggregates.refresh()
    s = fb_metrics.summary(W)
    assert (s["nps"]["value"], s["nps"]["responses"]) == (25.0, 4)  # 1, 2: 1 detractor; 2, 4: promoters
    assert count("nps_category", "eq", "promoter") == 2
    assert feedback.worklist(user("steward"))["customer_id"].tolist() == [1]
    assert feedback.customer_feedback(user("manager"), 2)["score"].tolist() == [10, 2, 4, 9]
