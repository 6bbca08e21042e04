"""AppTest of the stewardship pages: scorecard, review queue and fix form, merge screen, import."""

from __future__ import annotations

import pytest

from lib.security import auth
from lib.stewardship import edits as ce, importer, quality, review
from lib import ui
from lib.core import i18n, warehouse
from tests.app.helpers import as_user, open_page
from tests.stewards_fixtures import _stw_root, stw_wh  # noqa: F401 - fixtures


def button(at, label):
    return next(b for b in at.button if b.label == label)


@pytest.fixture
def ran(stw_wh):
    quality.run(auth.SYSTEM)
    return stw_wh


def test_scorecard_shows_scores_and_drills_down_to_failing_records(ran):
    at = open_page(as_user("steward"), "pages/11_quality.py")
    assert not at.exception
    card = quality.scorecard()
    assert at.metric[0].label == "Overall score" and at.metric[0].value == ui.fmt_pct(card.overall)
    assert [m.label for m in at.metric[1:]] == [
        "Completeness",
        "Validity",
        "Uniqueness",
        "Consistency",
        "Timeliness",
        "Accuracy",
    ]
    assert len(at.get("plotly_chart")) == 4
    at.selectbox(key="quality_drill_rule").set_value("email_unique").run()
    drill = at.dataframe[-1].value
    assert drill[["customer_id", "source_record_id"]].values.tolist() == [[15, "T15"], [16, "T16"]]


def test_running_the_checks_from_the_page_adds_a_run(ran):
    at = open_page(as_user("admin"), "pages/11_quality.py")
    button(at, "Run quality checks now").click().run()
    assert not at.exception
    assert len(quality.runs()) == 2
    assert any("Run 2 finished" in s.value for s in at.success)


def _open_item(at, customer_id, rule_id):
    flag = review.items(auth.SYSTEM, review.QueueFilter(rule_id=rule_id))
    flag = flag[flag["customer_id"] == customer_id].iloc[0]
    at.selectbox(key="rq_rule").set_value(rule_id).run()
    at.selectbox(key="rq_item").set_value(f"flag:{int(flag['item_id'])}").run()
    return int(flag["item_id"])


def test_queue_fix_form_saves_a_valid_value_and_resolves_the_flag(ran):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    assert not at.exception
    assert at.dataframe[0].value["severity"].iloc[0] == "High"
    with warehouse.transaction() as tx:  # a stored value outside the form's list stays as it is
        tx.run("UPDATE customers SET gender = 'F', industry = 'fishing' WHERE customer_id = 7")
    flag_id = _open_item(at, 7, "mobile_valid")
    gender, industry = at.selectbox(key=f"fix_{flag_id}_gender"), at.selectbox(key=f"fix_{flag_id}_industry")
    assert (gender.value, industry.value) == ("F", "fishing")
    assert "Female" in gender.options and "Retail" in industry.options  # codes by name
    at.text_input(key=f"fix_{flag_id}_mobile").input("139 1234 0007")
    button(at, "Validate and save").click().run()
    assert not at.exception and not at.error
    saved = ce._get(7)
    assert (saved["mobile"], saved["gender"], saved["industry"]) == ("+8613912340007", "F", "fishing")
    assert review.flag(auth.SYSTEM, flag_id)["status"] == "resolved"


def test_queue_fix_form_shows_field_errors_and_saves_nothing(ran):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    flag_id = _open_item(at, 7, "mobile_valid")
    at.text_input(key=f"fix_{flag_id}_mobile").input("12345")
    button(at, "Validate and save").click().run()
    assert any("Mobile" in e.value and "not a valid phone number" in e.value for e in at.error)
    assert ce._get(7)["version"] == 1 and review.flag(auth.SYSTEM, flag_id)["status"] == "open"


def test_queue_fix_form_reports_a_concurrent_save(ran, users):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    flag_id = _open_item(at, 7, "mobile_valid")
    ce.update_customer(users["admin"], 7, {"city": "广州市"}, 1)  # saved meanwhile
    at.text_input(key=f"fix_{flag_id}_mobile").input("139 1234 0007")
    button(at, "Validate and save").click().run()
    assert any("Someone else saved this record first" in e.value for e in at.error)
    assert (ce._get(7)["city"], ce._get(7)["mobile"], ce._get(7)["version"]) == ("广州市", "+8612633772910", 2)


def test_queue_verify_and_ignore_actions(ran):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    flag_id = _open_item(at, 24, "mobile_not_placeholder")
    button(at, "Ignore this flag").click().run()
    assert at.error and review.flag(auth.SYSTEM, flag_id)["status"] == "open"  # no reason given
    at.text_input(key=f"rq_reason_{flag_id}").input("the customer's real test number")
    button(at, "Ignore this flag").click().run()
    assert review.flag(auth.SYSTEM, flag_id)["status"] == "ignored"
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    flag_id = _open_item(at, 23, "not_stale")
    button(at, "Mark verified").click().run()
    assert review.flag(auth.SYSTEM, flag_id)["status"] == "verified" and ce._get(23)["verified_at"] is not None


def test_merge_screen_merges_with_survivorship_and_undoes(ran):
    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
            "match_weight, agreement) VALUES (1, 13, 14, 0.995, 14.2, "
            '\'{"mobile": {"level": 2, "label": "same number", "weight": 15.7}}\')'
        )
    at = open_page(as_user("steward"), "pages/13_duplicates.py")
    assert not at.exception
    pairs = at.dataframe[0].value
    assert list(pairs.columns)[:3] == ["Pair", "Match probability", "Customer (left)"]
    assert pairs[["Customer (left)", "Customer (right)"]].values.tolist() == [[13, 14]]
    table = at.dataframe[1].value
    assert "Same Mobile (+15.7)" in table.iloc[:, -1].tolist()  # the level in words of the page language
    country = table[table["Field"] == "Country"].iloc[0, 1:3].tolist()
    assert country == [
        i18n.country_name(warehouse.scalar(f"SELECT country FROM customers WHERE customer_id = {c}")) for c in (13, 14)
    ]
    assert all(len(c) > 2 for c in country)  # by name ("China"), not the code
    button(at, "Merge").click().run()
    assert not at.exception
    assert warehouse.scalar("SELECT merged_into FROM customers WHERE customer_id = 14") == 13
    merge_id = int(warehouse.scalar("SELECT max(merge_id) FROM merges"))
    at.run()
    at.selectbox(key="dd_undo_id").set_value(merge_id).run()
    button(at, "Undo merge").click().run()
    assert warehouse.scalar("SELECT merged_into FROM customers WHERE customer_id = 14") is None


def test_import_page_releases_a_fixed_quarantined_row(ran, tmp_path, users):
    csv = tmp_path / "q.csv"
    csv.write_text("id,name,mobile\nQ1,,13812345600\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", csv, "walkin", match_duplicates=False)
    qid = int(importer.quarantine(auth.SYSTEM).iloc[0]["quarantine_id"])
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert not at.exception
    at.text_input(key=f"q_{qid}_full_name").input("孙悟空")
    button(at, "Validate and release").click().run()
    assert not at.exception and not at.error
    assert warehouse.scalar("SELECT full_name FROM customers WHERE source = 'walkin'") == "孙悟空"


def test_the_queue_offers_the_previous_page_when_a_later_page_is_empty(ran):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    at.session_state["rq_page"] = 1  # "Next" was clicked, then the page emptied
    at.run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Nothing to review with these filters."]
    button(at, "Previous").click().run()
    assert at.session_state["rq_page"] == 0
    assert not at.dataframe[0].value.empty


def test_changing_a_filter_goes_back_to_the_first_page(ran):
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    at.session_state["rq_page"] = 3
    at.selectbox(key="rq_rule").set_value("mobile_valid").run()
    assert not at.exception
    assert at.session_state["rq_page"] == 0
    shown = at.dataframe[0].value
    assert not shown.empty and set(shown["rule"]) == {"Mobile valid"}


def test_import_history_shows_translated_headers_and_no_none(ran, tmp_path, users):
    csv = tmp_path / "h.csv"
    csv.write_text("id,name,mobile\nH1,王小明,13812345601\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", csv, "walkin", match_duplicates=False)
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert not at.exception
    history = at.dataframe[-1].value
    assert list(history.columns) == [
        "Import",
        "Kind",
        "Source",
        "File",
        "By",
        "Started",
        "Finished",
        "Rows",
        "Loaded",
        "Unchanged",
        "Quarantined",
        "Flagged",
        "Status",
    ]
    row = history.iloc[0]
    assert (row["Kind"], row["Source"], row["File"], row["By"], row["Rows"], row["Loaded"]) == (
        "Customers",
        "walkin",
        "h.csv",
        "steward",
        1,
        1,
    )


def test_import_history_without_imports_says_so_instead_of_an_empty_table(ran):
    assert warehouse.scalar("SELECT count(*) FROM imports") == 0
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert not at.exception
    assert "No files imported yet" in " ".join(i.value for i in at.info)
    assert not any("Rows" in df.value.columns for df in at.dataframe)  # no empty grid with a blank row
