"""AppTest of every marketing page on a small demo warehouse: marketing works, managers are refused."""

from __future__ import annotations

import os

import pytest

from lib.security import auth
from lib.marketing import churn, clv, segments
from lib.core import warehouse
from tests import marketing_fixture as mf
from tests.app.helpers import as_user, open_page

PAGES = ["pages/20_rfm.py", "pages/21_segments.py", "pages/22_tags.py", "pages/23_churn.py"]


@pytest.fixture(scope="module")
def demo_wh(tmp_path_factory):
    path = mf.demo_copy(tmp_path_factory, tmp_path_factory.mktemp("mkt-app") / "demo.duckdb")
    warehouse.use(str(path))
    warehouse.migrate()
    churn.train(auth.SYSTEM, None, 90)
    churn.score(auth.SYSTEM, None, 90)
    clv.fit_and_score(auth.SYSTEM, None, 90)
    warehouse.dispose()
    warehouse.use(None)
    return path


@pytest.fixture
def wh(demo_wh):
    warehouse.use(str(demo_wh))
    os.environ["C360_WAREHOUSE"] = str(demo_wh)
    yield demo_wh
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)


def texts(at) -> str:
    return " ".join(
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [s.value for s in at.success]
        + [e.value for e in at.error]
    )


@pytest.mark.parametrize("path", PAGES)
def test_manager_is_refused_every_marketing_page(wh, path):
    at = open_page(as_user("manager"), path)
    assert not at.exception
    assert any("do not allow" in e.value for e in at.error)
    assert len(at.get("plotly_chart")) == 0 and len(at.dataframe) == 0


def test_rfm_page_shows_treemap_table_and_lifecycle_and_recomputes(wh):
    at = open_page(as_user("marketing"), "pages/20_rfm.py")
    assert not at.exception
    assert [m.label for m in at.metric][:2] == ["Customers with purchases", "Revenue"]
    assert len(at.get("plotly_chart")) == 3  # treemap, R x F grid, lifecycle
    segments_shown = set(at.dataframe[0].value["segment"])
    assert {"Champions", "Lost"} <= segments_shown
    button = next(b for b in at.button if b.label.startswith("Recompute and store stages"))
    button.click().run()
    assert not at.exception
    assert "changed stage" in texts(at)
    assert (
        warehouse.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'lifecycle.recompute' AND username = 'marketing'"
        )
        == 1
    )


def test_segments_page_counts_saves_and_exports_an_audited_audience(wh):
    at = open_page(as_user("marketing"), "pages/21_segments.py")
    assert not at.exception
    # the default condition: RFM segment is <first value>
    assert at.metric[0].label == "Members" and int(at.metric[0].value.replace(",", "")) > 0
    assert len(at.get("plotly_chart")) == 1  # reachable audience
    value_box = next(s for s in at.selectbox if (s.key or "").endswith("_veq"))
    value_box.select("At Risk").run()
    # the condition in words, not its codes ("rfm_segment eq \"At Risk\"")
    assert "Reads as: (RFM segment is At Risk)" in [c.value for c in at.caption]
    members = int(at.metric[0].value.replace(",", ""))
    assert (
        members
        == segments.stats(
            {"op": "and", "conditions": [{"field": "rfm_segment", "operator": "eq", "value": "At Risk"}]}
        )["members"]
    )
    at.text_input(key="seg_save_name").input("At risk (app test)").run()
    at.button(key="seg_save").click().run()
    assert not at.exception
    saved = segments.get(name="At risk (app test)")
    assert saved["owner"] == "marketing" and saved["definition"]["conditions"][0]["value"] == "At Risk"
    at.button(key="seg_export_prepare").click().run()
    assert not at.exception
    assert "reachable contacts" in texts(at)
    entry = warehouse.one(
        "SELECT entity_id, detail FROM audit_log WHERE action = 'audience.export' ORDER BY audit_id DESC LIMIT 1"
    )
    assert entry["entity_id"] == "At risk (app test)"


def test_tags_page_tags_one_customer(wh):
    at = open_page(as_user("marketing"), "pages/22_tags.py")
    assert not at.exception
    at.number_input(key="tags_customer_id").set_value(1).run()
    next(i for i in at.text_input if i.label == "Tag").input("app-test")
    next(b for b in at.button if b.label == "Add tag").click().run()
    assert not at.exception
    assert "app-test" in [
        r[0] for r in warehouse.read("SELECT tag FROM tags WHERE customer_id = 1").itertuples(index=False)
    ]
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'tag.add'") >= 1


def test_churn_page_shows_model_vs_baseline_scores_and_clv(wh):
    at = open_page(as_user("marketing"), "pages/23_churn.py")
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["Holdout ROC AUC", "Recency baseline AUC"]
    assert "High risk" in labels
    assert any(label.startswith("Predicted (backtest)") for label in labels)
    assert len(at.get("plotly_chart")) == 4  # calibration, importance, backtest, CLV by segment
    model = churn.models().iloc[0]
    assert at.metric[0].value == f"{model['auc']:.3f}"


def test_churn_page_retrains_with_a_progress_bar(wh):
    before = len(churn.models())
    at = open_page(as_user("marketing"), "pages/23_churn.py")
    submit = next(b for b in at.button if b.label == "Train and score")
    submit.click().run()
    assert not at.exception
    assert len(churn.models()) == before + 1
    assert "holdout AUC" in texts(at)
