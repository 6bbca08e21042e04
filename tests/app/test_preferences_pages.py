"""The categories page, the Overview's revenue outlook and the 360° page's preferences."""

from __future__ import annotations

import pytest

from lib.marketing import preferences
from tests import preferences_fixture as px
from tests.app.helpers import as_user, open_page

ROLES = ["manager", "marketing", "steward", "admin"]


@pytest.fixture
def prefs(warehouse_path):
    px.build()
    preferences.refresh(px.AS_OF)
    return warehouse_path


def _texts(at) -> str:
    parts = [str(e.value) for e in at.markdown] + [str(e.value) for e in at.caption]
    parts += [str(e.value) for e in at.info] + [f"{m.label}={m.value}" for m in at.metric]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


@pytest.mark.parametrize("username", ROLES)
def test_categories_page_shows_revenue_buyers_and_repeat_rate(prefs, username):
    at = as_user(username)
    at.query_params["from"] = "2026-01-01"
    at.query_params["to"] = "2026-06-30"
    open_page(at, "pages/04_categories.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("category")
    # 2026-01-01..06-30, non-cancelled orders of live customers: the refunded one counts 0
    assert table.loc["Apparel", "revenue"] == 1300  # 100 + 200 (1) + 600 + 400 (5)
    assert table.loc["Apparel", "buyers"] == 2 and table.loc["Apparel", "repeat_rate"] == 1.0
    assert table.loc["Beauty", "buyers"] == 2 and table.loc["Beauty", "repeat_rate"] == 0.0
    assert table.loc["Electronics", "revenue"] == 0 and table.loc["Electronics", "buyers"] == 0
    # one view at a time: only the open tab's charts are built
    assert [tab.label for tab in at.tabs] == ["By category", "By order channel", "Monthly trend"]
    assert [c.key for c in at.get("plotly_chart")] == ["cat_revenue_chart", "cat_buyers_chart"]
    texts = _texts(at)
    for view, charts in (("By order channel", ["cat_channel_chart"]), ("Monthly trend", ["cat_monthly_chart"])):
        at.query_params["view"] = view  # a link to the view, as shared
        at.run()
        assert not at.exception, at.exception
        assert [c.key for c in at.get("plotly_chart")] == charts
        texts += _texts(at)
    assert "None" not in texts and "apparel" not in texts


def test_categories_page_in_chinese(prefs):
    at = as_user("manager")
    at.session_state["lang"] = "zh"
    at.query_params["from"] = "2026-01-01"
    at.query_params["to"] = "2026-06-30"
    open_page(at, "pages/04_categories.py")
    assert not at.exception, at.exception
    assert "服装" in at.dataframe[0].value.iloc[:, 0].tolist()


def test_overview_outlook_says_how_to_fit_a_model_when_none_is(prefs):
    at = as_user("manager")
    at.query_params["outlook"] = "true"
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    assert "No CLV model is fitted yet" in _texts(at)
    assert "clv score" in _texts(at)


def test_overview_outlook_is_not_computed_until_opened(prefs, monkeypatch):
    from lib.marketing import outlook

    def boom(*a, **k):
        raise AssertionError("computed while closed")

    monkeypatch.setattr(outlook, "outlook", boom)
    at = open_page(as_user("manager"), "pages/01_overview.py")
    assert not at.exception, at.exception
    assert len(at.metric) == 10  # only the KPI cards (eight, and NPS and CSAT)


def test_overview_outlook_shows_forecast_and_backtest(prefs):
    from lib.core import warehouse

    with warehouse.transaction() as tx:
        tx.run(
            "INSERT INTO clv_models (fitted_by, as_of, horizon_days, n_customers, bgnbd, gamma_gamma)"
            " VALUES ('test', DATE '2026-06-30', 180, 5, CAST(:bg AS JSON), CAST(:gg AS JSON))",
            bg='{"r": 0.5, "alpha": 20.0, "a": 0.6, "b": 3.0}',
            gg='{"p": 2.0, "q": 3.0, "gamma": 100.0}',
        )
    at = as_user("manager")
    at.query_params["outlook"] = "true"
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    text = _texts(at)
    assert "Expected net revenue from 2026-07-01 to 2026-09-30, as of 2026-06-30" in text
    labels = [m.label for m in at.metric]
    assert labels[-3:] == ["Existing customers", "New customers", "Expected revenue, total"]
    # a year before 2026-06-30 nobody had bought yet: the backtest says it cannot be made
    assert "No backtest" in text


@pytest.mark.parametrize("username", ["manager", "steward"])
def test_customer_360_shows_preferences_and_the_next_category(prefs, username):
    at = as_user(username)
    at.query_params["id"] = "1"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Favourite category"] == "Apparel"
    assert cards["Next category to offer"] == "Apparel"
    assert cards["Price level"] == "High"
    assert cards["Average order value"] == "¥433"
    text = _texts(at)
    assert "**Categories bought:** Apparel, Beauty (3 kept orders)" in text
    assert "**Browsed or carted but not bought in the last 90 days:** Electronics" in text


def test_customer_360_without_preferences_says_so(prefs):
    at = as_user("manager")
    at.query_params["id"] = "6"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    assert "No purchases or browsing with a category yet" in _texts(at)


def test_segment_builder_counts_customers_by_a_category_bought(prefs):
    at = open_page(as_user("marketing"), "pages/21_segments.py")
    assert not at.exception, at.exception
    field = next(s for s in at.selectbox if (s.key or "").startswith("seg_c") and s.key.endswith("_f"))
    field.select("categories_bought").run()
    assert not at.exception, at.exception
    values = next(m for m in at.multiselect if (m.key or "").endswith("_vhas_any"))
    assert values.options == ["Apparel", "Beauty", "Electronics", "Home"]  # shown by name
    values.select("beauty").run()
    assert not at.exception, at.exception
    assert at.metric[0].label == "Members" and at.metric[0].value == "2"  # customers 1 and 2


def test_categories_reads_only_the_open_views_figures(prefs, monkeypatch):
    """Each view's queries (0.4-0.7 s each at 1M) run when its tab is opened, not on every visit."""
    from lib.dashboards import categories

    read = []
    for name in ("summary", "by_channel", "monthly"):
        real = getattr(categories, name)
        monkeypatch.setattr(categories, name, lambda f, _real=real, _name=name: read.append(_name) or _real(f))
    at = as_user("manager")
    at.query_params["from"] = "2026-02-01"
    at.query_params["to"] = "2026-05-31"
    open_page(at, "pages/04_categories.py")
    assert not at.exception, at.exception
    assert read == ["summary"]
    at.query_params["view"] = "Monthly trend"
    at.run()
    assert not at.exception, at.exception
    assert read == ["summary", "monthly"]  # the summary came from the page cache
