"""Charts are figures with titles and axes in the current language; every dash.* string has both."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import pytest

from lib.dashboards import charts
from lib.core import i18n, plot_theme


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


def test_a_figure_is_built_once_for_the_same_data_and_language():
    """plot_theme.reused: equal frames (a copy from the page cache is a new object) give the
    same figure; other values, another column, another language or other arguments build anew."""
    import pickle

    from lib.core import plot_theme

    i18n.set_language("en")
    first = charts.monthly_customers(MONTHLY)
    assert charts.monthly_customers(pickle.loads(pickle.dumps(MONTHLY))) is first
    changed = MONTHLY.assign(active_customers=[1, 3])
    other = charts.monthly_customers(changed)
    assert other is not first and list(other.data[1].y) == [1, 3]
    assert charts.monthly_customers(MONTHLY.rename(columns={"orders": "n_orders"})) is not first
    i18n.set_language("zh")
    chinese = charts.monthly_customers(MONTHLY)
    assert chinese is not first and chinese.layout.title.text == "每月新增与活跃客户"
    i18n.set_language("en")
    assert charts.monthly_customers(MONTHLY) is first
    breakdown = pd.DataFrame({"dimension": ["channel"] * 2, "value": ["web", "store"], "customers": [3, 5]})
    assert charts.breakdown(breakdown, "channel") is charts.breakdown(breakdown.copy(), "channel")
    assert charts.breakdown(breakdown, "channel", top=1) is not charts.breakdown(breakdown, "channel")
    # text, Decimal and time values are compared by value, in their order and place
    events = pd.DataFrame(
        {
            "event_time": [pd.Timestamp("2026-01-02 10:00"), pd.Timestamp("2026-02-03 11:00")],
            "event_type": ["browse", "consult"],
            "channel": ["web", None],
        }
    )
    orders = pd.DataFrame(
        {"order_time": [pd.Timestamp("2026-01-02")], "amount": [Decimal("5408.07")], "status": ["paid"]}
    )
    timeline = charts.customer_timeline(events, orders)
    assert charts.customer_timeline(pickle.loads(pickle.dumps(events)), orders.copy()) is timeline
    for other_events, other_orders in (
        (events.assign(channel=["app", None]), orders),
        (events.iloc[::-1], orders),
        (events, orders.assign(amount=[Decimal("5408.08")])),
        (events.assign(event_time=events["event_time"] + pd.Timedelta(seconds=1)), orders),
    ):
        assert charts.customer_timeline(other_events, other_orders) is not timeline
    # an argument without a content fingerprint is not an error: the figure is built every time
    built = []

    @plot_theme.reused
    def chart(values):
        built.append(values)
        return go.Figure()

    chart(object())
    chart(object())
    chart((1, "a"))
    chart((1, "a"))
    assert len(built) == 3


def test_margins_hold_the_axes_labels_so_plotly_draws_once():
    """plot_theme estimates the room tick labels and axis titles take (plotly's automargin
    would otherwise draw each figure twice): titled axes get room for their title, long
    category names (Chinese ones wider) for their width, turned x labels for their height."""
    i18n.set_language("en")
    trend = charts.monthly_customers(MONTHLY).layout.margin
    assert trend.l >= 80 and trend.b >= 60  # numbers and "Customers" on the left, months and "Month" below
    revenue = charts.monthly_revenue(MONTHLY).layout.margin
    assert revenue.l > trend.l  # "¥" before every figure
    names = ["short", "a considerably longer segment name"]
    bars = pd.DataFrame({"dimension": ["channel"] * 2, "value": names, "customers": [3, 5]})
    wide = charts.breakdown(bars, "channel").layout.margin.l
    chinese = charts.breakdown(bars.assign(value=["短", "一个相当长的细分名称"]), "channel").layout.margin.l
    assert wide > 200 and 130 < chinese < wide
    empty = charts.breakdown(pd.DataFrame(columns=["dimension", "value", "customers"]), "channel").layout.margin
    assert empty.l < 30 and empty.b < 30  # no axes drawn, no room kept for them


def test_the_timeline_labels_dates_as_numbers_and_codes_by_name():
    """The 360° timeline in Chinese: dates as "2026-03" (plotly's own labels are English month
    names), and its hover texts name the channel and the order status, not their codes."""
    i18n.set_language("zh")
    try:
        events = pd.DataFrame(
            {
                "event_time": pd.to_datetime(["2025-11-02 10:00", "2026-06-03 11:00"]),
                "event_type": ["browse", "browse"],
                "channel": ["wechat", None],
            }
        )
        orders = pd.DataFrame(
            {"order_time": pd.to_datetime(["2026-01-02"]), "amount": [Decimal("5408.07")], "status": ["paid"]}
        )
        fig = charts.customer_timeline(events, orders)
        stops = {tuple(s.dtickrange): s.value for s in fig.layout.xaxis.tickformatstops}
        assert stops[("M1", "M12")] == "%Y-%m" and all("%b" not in v and "%B" not in v for v in stops.values())
        browse, order = fig.data
        assert list(browse.customdata) == [i18n.t("dash.channel.wechat"), ""]
        assert list(order.customdata[0]) == [5408.07, i18n.t("dash.order.status.paid")]
    finally:
        i18n.set_language("en")


def test_chinese_axes_count_in_wan_and_yi():
    """In Chinese a value axis reaching 10,000 is labelled in 万/亿 ("¥1.5亿", "40万"), where
    plotly would write "¥150M" and "400k"; stacked bars reach their stack's sum; English keeps
    plotly's own labels, and small numbers are left alone."""
    frame = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "revenue": [1.2e8, 1.5e8, 0.9e8],
            "new_customers": [40_000, 52_000, 61_000],
            "active_customers": [400_000, 410_000, 390_000],
            "orders": [1, 2, 3],
        }
    )
    i18n.set_language("zh")
    try:
        revenue = charts.monthly_revenue(frame).layout.yaxis
        assert list(revenue.ticktext) == ["¥0", "¥5000万", "¥1亿", "¥1.5亿"]
        assert list(revenue.tickvals) == [0, 5e7, 1e8, 1.5e8]
        customers = charts.monthly_customers(frame).layout.yaxis
        assert customers.ticktext[-1] == "40万" and all("k" not in x and "M" not in x for x in customers.ticktext)
        small = charts.monthly_customers(frame.assign(new_customers=[4, 5, 6], active_customers=[40, 41, 39]))
        assert small.layout.yaxis.ticktext is None
        stacked = plot_theme.apply(
            go.Figure(
                [go.Bar(x=["a", "b"], y=[30_000, 10_000]), go.Bar(x=["a", "b"], y=[30_000, 5_000])]
            ).update_layout(barmode="stack")
        )
        assert stacked.layout.yaxis.ticktext[-1] == "6万"  # up to the 60,000 stack, not its 30,000 parts
        # a bar chart gets no colour bar (setting one's number format would draw it)
        assert all("colorbar" not in (trace.get("marker") or {}) for trace in stacked.to_plotly_json()["data"])
    finally:
        i18n.set_language("en")
    assert charts.monthly_revenue(frame).layout.yaxis.ticktext is None
