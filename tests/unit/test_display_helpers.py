"""The display helpers every page shares: empty values, money, compact KPI values, plurals,
lists of messages, readable JSON and codes, and the one chart theme."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from lib.core import i18n, plot_theme
from lib.ui import widgets


@pytest.fixture
def zh():
    i18n.set_language("zh")
    yield
    i18n.set_language("en")


def test_every_missing_value_is_shown_as_a_dash_and_complete_columns_keep_their_type():
    frame = pd.DataFrame(
        {
            "name": pd.array(["张伟", None, "  "], dtype="string"),
            "orders": [3, 1, 2],
            "score": [1234567.0, math.nan, 0.5],
            "seen": pd.to_datetime(["2026-01-02 10:30", None, "2026-03-04 08:00"]),
            "born": pd.to_datetime(["1990-01-02", None, "1985-07-08"]),
            "note": [None, "x", None],
        }
    )
    shown = i18n.display_frame(frame)
    assert shown["name"].tolist() == ["张伟", "—", "—"]
    assert shown["orders"].tolist() == [3, 1, 2] and shown["orders"].dtype == frame["orders"].dtype
    assert shown["score"].tolist() == ["1,234,567", "—", "0.50"]
    assert shown["seen"].tolist() == ["2026-01-02 10:30", "—", "2026-03-04 08:00"]
    assert shown["born"].tolist() == ["1990-01-02", "—", "1985-07-08"]
    assert shown["note"].tolist() == ["—", "x", "—"]
    assert not any(str(v) in ("None", "nan", "NaN", "NaT", "<NA>") for v in shown.to_numpy().ravel())


def test_gaps_in_mixed_text_columns_and_zoned_times_are_dashes_too():
    frame = pd.DataFrame(
        {
            "detail": pd.Series([{"a": 1}, "", None, 7], dtype=object),  # not only text
            "at": pd.to_datetime(["2026-01-02 10:30", None, "2026-03-04 08:00", None]).tz_localize("Asia/Shanghai"),
            "tag": ["vip", "\t", "x", None],
        }
    )
    shown = i18n.display_frame(frame)
    assert shown["detail"].tolist() == [{"a": 1}, "—", "—", 7]
    assert shown["at"].tolist() == ["2026-01-02 10:30", "—", "2026-03-04 08:00", "—"]
    assert shown["tag"].tolist() == ["vip", "—", "x", "—"]
    assert frame["tag"].tolist()[1] == "\t"  # the caller's frame is left as it was


def test_money_codes_json_and_shared_headers():
    frame = pd.DataFrame(
        {
            "customer_id": [7, 8],
            "source": ["wechat_mall", "legacy_erp"],
            "industry": ["professional_services", None],
            "amount": [192719946.4, None],
            "detail": [
                '{"client": "local", "rows": 1408, "ok": true, "session_started": "2026-12-03T08:09:59.123",'
                ' "contacts": "unmasked", "flags_opened": 3}',
                "plain text",
            ],
        }
    )
    shown = i18n.display_frame(frame, money=["amount"], json={"detail": ()}, headers="nothing.here")
    assert list(shown.columns) == ["Customer", "Source", "industry", "amount", "detail"]
    assert shown["Source"].tolist() == ["WeChat mall", "legacy_erp"]  # an unknown source as stored
    assert shown["industry"].tolist() == ["Professional services", "—"]
    assert shown["amount"].tolist() == ["¥192,719,946", "—"]
    # keys by name (one without a label made readable), times to the minute, known values in words
    assert shown["detail"].tolist() == [
        "Client: local; Rows: 1,408; Ok: yes; Session started: 2026-12-03 08:09; Contacts: Unmasked; Flags opened: 3",
        "plain text",
    ]


def test_codes_in_chinese(zh):
    frame = pd.DataFrame({"source": ["store_pos"], "channel": ["ads"], "industry": ["professional_services"]})
    shown = i18n.display_frame(frame)
    assert shown.iloc[0].tolist() == ["门店收银", "广告投放", "专业服务"]
    assert i18n.code_text("admin.audit.act", "pii.reveal") == "查看身份证号"


def test_unknown_audit_codes_are_made_readable_not_shown_raw():
    assert i18n.code_text("admin.audit.act", "pii.reveal") == "Revealed a resident ID"
    assert i18n.code_text("admin.audit.act", "report.send_weekly") == "Report send weekly"


def test_money_and_counts_have_separators():
    assert widgets.fmt_money(192719946) == "¥192,719,946"
    assert widgets.fmt_int(15968) == "15,968"
    assert widgets.fmt_money(None) == widgets.fmt_int(math.nan) == widgets.fmt_pct(None) == "—"
    assert i18n.money_text(None) == "—"


def test_kpi_values_that_would_not_fit_are_compact_with_the_exact_value_kept():
    assert widgets.kpi_value(287875123.4, money=True, cards=4) == ("¥287.9M", "¥287,875,123")
    assert widgets.kpi_value(8383.0, money=True, cards=4) == ("¥8,383", "¥8,383")  # fits: exact
    assert widgets.kpi_value(1234567, cards=6) == ("1.2M", "1,234,567")
    assert widgets.kpi_value(15968, cards=4) == ("15,968", "15,968")
    assert widgets.kpi_value(None, money=True) == ("—", "—")


def test_compact_values_in_chinese_use_wan_and_yi(zh):
    assert widgets.fmt_compact(287875123.4, money=True) == "¥2.88亿"
    assert widgets.fmt_compact(56789, money=True) == "¥5.7万"
    assert widgets.fmt_compact(-123, money=True) == "-¥123"
    assert widgets.kpi_value(287875123.4, money=True, cards=4) == ("¥2.88亿", "¥287,875,123")


def test_plurals_pick_the_singular_for_one():
    assert i18n.plural("admin.audit.matches", 1) == "1 entry matches"
    assert i18n.plural("admin.audit.matches", 1234) == "1,234 entries match"
    assert i18n.plural("admin.audit.matches", 0) == "0 entries match"
    assert i18n.plural("admin.audit.matches", 1, lang="zh") == "共 1 条匹配记录"


def test_several_messages_read_as_one_sentence():
    assert i18n.sentences(["Name is required.", "A valid email is needed."]) == (
        "Name is required; a valid email is needed."
    )
    assert i18n.sentences(["ID number is not valid.", "Mobile is required."]) == (
        "ID number is not valid; mobile is required."
    )
    assert i18n.sentences(["姓名为必填项。", "邮箱格式无效。"], lang="zh") == "姓名为必填项；邮箱格式无效。"
    assert i18n.sentences([]) == ""


def test_the_chart_theme_puts_the_legend_above_the_plot_with_cjk_fonts():
    fig = go.Figure([go.Bar(x=[1, 2], y=[3, 4], name="a"), go.Scatter(x=[1, 2], y=[2, 3], name="b")])
    plot_theme.apply(fig, "Title", 300)
    layout = fig.layout
    assert "WenQuanYi Micro Hei" in layout.font.family and "Noto Sans CJK SC" in layout.font.family
    assert (layout.legend.orientation, layout.legend.yanchor, layout.legend.y) == ("h", "bottom", 1.02)
    assert layout.margin.t == plot_theme.MARGIN["t"] and layout.height == 300
    assert layout.title.text == "Title" and layout.template.layout.font.family == plot_theme.FONT


def test_a_single_point_is_a_visible_marker_on_a_category_axis():
    fig = go.Figure([go.Scatter(x=[3], y=[97.5], mode="lines", name="Overall")])
    plot_theme.apply(fig)
    trace = fig.data[0]
    assert trace.mode == "lines+markers" and trace.marker.size == 10
    assert fig.layout.xaxis.type == "category"
    assert fig.layout.margin.t == plot_theme.MARGIN_NO_LEGEND["t"]  # one series: no legend row


def test_every_chart_builder_uses_the_theme():
    from lib.dashboards import charts as dash
    from lib.stewardship import charts as stw

    monthly = pd.DataFrame(
        {"month": ["2026-01-01", "2026-02-01"], "new_customers": [1, 2], "active_customers": [3, 4], "revenue": [1, 2]}
    )
    trend = pd.DataFrame({"run_id": [1], "overall": [0.97], "completeness": [0.99]})
    for fig in (
        dash.monthly_customers(monthly),
        dash.monthly_revenue(monthly),
        stw.score_trend(trend, ("completeness",)),
    ):
        assert fig.layout.template.layout.font.family == plot_theme.FONT
        assert fig.layout.legend.y == 1.02
    assert dash.monthly_customers(monthly).layout.xaxis.tickformat == "%Y-%m"
    assert dash.monthly_customers(monthly).layout.xaxis.dtick is None  # plotly spaces the labels


def test_the_theme_lets_every_axis_of_subplots_grow_for_its_labels():
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2)
    fig.add_bar(x=["a"], y=[1], row=1, col=1)
    fig.add_bar(x=["b"], y=[2], row=1, col=2)
    plot_theme.apply(fig, "Two", 300)
    layout = fig.layout
    assert [layout[a].automargin for a in ("xaxis", "xaxis2", "yaxis", "yaxis2")] == [True] * 4
    assert layout.xaxis2.anchor == "y2" and layout.xaxis2.domain[0] > 0.5  # the subplot layout is kept


def test_the_theme_accepts_traces_without_a_legend():
    fig = go.Figure(go.Treemap(labels=["a", "b"], parents=["", "a"], values=[1, 2]))
    plot_theme.apply(fig, "Segments", 300)
    assert fig.layout.margin.t == plot_theme.MARGIN_NO_LEGEND["t"]
