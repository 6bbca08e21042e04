"""Charts are figures with titles and axes in the current language; every dash.* string has both."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest

from lib.dashboards import charts
from lib.core import i18n


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


MONTHLY = pd.DataFrame(
    {
        "month": [date(2026, 4, 1), date(2026, 5, 1)],
        "new_customers": [0, 1],
        "active_customers": [1, 2],
        "revenue": [200.0, 800.0],
        "orders": [1, 2],
    }
)


@pytest.mark.parametrize(
    "lang,title,axis", [("en", "New and active customers per month", "Month"), ("zh", "每月新增与活跃客户", "月份")]
)
def test_trend_chart_speaks_the_users_language(lang, title, axis):
    i18n.set_language(lang)
    fig = charts.monthly_customers(MONTHLY)
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text == title and fig.layout.xaxis.title.text == axis
    assert [tr.name for tr in fig.data] == [i18n.t("dash.chart.new_customers"), i18n.t("dash.chart.active_customers")]


def test_empty_data_gives_a_figure_that_says_so():
    fig = charts.breakdown(pd.DataFrame(columns=["dimension", "value", "customers"]), "channel")
    assert fig.layout.annotations[0].text == "No data for this selection."


def test_unknown_values_and_stages_are_labelled():
    frame = pd.DataFrame(
        {
            "dimension": ["channel", "channel", "channel"],
            "value": ["", "web", "kiosk"],
            "customers": [2, 5, 1],
            "new_customers": [0, 1, 0],
            "revenue": [0.0, 10.0, 1.0],
        }
    )
    fig = charts.breakdown(frame, "channel")
    # smallest first (largest on top); a channel without a name (added later) shows as stored
    assert list(fig.data[0].y) == ["kiosk", "(unknown)", "Web"]
    i18n.set_language("zh")
    assert list(charts.breakdown(frame, "channel").data[0].y) == ["kiosk", "（未知）", "网站"]
    assert charts.stage_label("churned") == "流失客户" and charts.label("") == "（未知）"
    assert charts.dimension_label("lifecycle_stage", "") == charts.stage_label(None)
    assert charts.dimension_label("province", "浙江省") == "浙江省"


def test_every_dashboard_string_exists_in_both_languages():
    keys = [k for k in i18n.catalog() if k.startswith("dash.")]
    assert len(keys) > 100
    assert [k for k in keys if not (i18n.catalog()[k].get("en") and i18n.catalog()[k].get("zh"))] == []
