"""Streamlit pieces of issue #18's category work: the category analytics charts, the revenue
outlook section of the Overview and the preferences section of the Customer 360° page.

Pages call one function each (``outlook_section``, ``customer_section``); the categories page
uses the chart builders. Figures are built from the small frames lib/ returned.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lib.core import i18n, plot_theme
from lib.core.i18n import t
from lib.dashboards.charts import PALETTE, empty
from lib.dashboards.charts import _layout as layout
from lib.marketing import outlook, preferences
from lib.security import auth
from lib.ui.cache import cached
from lib.ui.widgets import EMPTY, fmt_int, fmt_money, fmt_money_short, kpi_row


def category_label(code) -> str:
    """A category in the current language (as stored when it has no name yet)."""
    if code is None or (isinstance(code, float) and code != code) or code == "":
        return t("dash.unknown")
    if code == "(none)":
        return t("prefs.category.none")
    return t(f"dash.category.{code}") if i18n.has(f"dash.category.{code}") else str(code)


def channel_label(code) -> str:
    if code in (None, "", "(none)"):
        return t("dash.unknown")
    return t(f"dash.channel.{code}") if i18n.has(f"dash.channel.{code}") else str(code)


# ---------------------------------------------------------------- category charts


@plot_theme.reused
def revenue_by_category(frame: pd.DataFrame) -> go.Figure:
    title = t("prefs.chart.revenue_by_category")
    if frame.empty:
        return empty(title)
    part = frame.sort_values("revenue")
    fig = go.Figure(
        go.Bar(
            x=part["revenue"],
            y=[category_label(c) for c in part["category"]],
            orientation="h",
            marker_color=PALETTE[2],
            text=[f"¥{v:,.0f}" for v in part["revenue"]],
            textposition="auto",
            hovertemplate="%{y}: ¥%{x:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("dash.chart.revenue"), tickprefix="¥")
    fig.update_layout(hovermode="closest")
    return layout(fig, title, height=max(240, 28 * len(part) + 90))


@plot_theme.reused
def buyers_and_repeat(frame: pd.DataFrame) -> go.Figure:
    title = t("prefs.chart.buyers_repeat")
    if frame.empty:
        return empty(title)
    labels = [category_label(c) for c in frame["category"]]
    fig = go.Figure()
    fig.add_bar(x=labels, y=frame["buyers"], name=t("prefs.col.buyers"), marker_color=PALETTE[0])
    fig.add_scatter(
        x=labels,
        y=frame["repeat_rate"],
        name=t("prefs.col.repeat_rate"),
        yaxis="y2",
        mode="markers+lines",
        line={"color": PALETTE[1], "width": 3},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    )
    fig.update_layout(
        yaxis={"title": t("prefs.col.buyers"), "rangemode": "tozero"},
        yaxis2={
            "title": t("prefs.col.repeat_rate"),
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "rangemode": "tozero",
        },
    )
    return layout(fig, title)


@plot_theme.reused
def revenue_by_channel(frame: pd.DataFrame) -> go.Figure:
    title = t("prefs.chart.by_channel")
    if frame.empty:
        return empty(title)
    fig = go.Figure()
    for i, (channel, part) in enumerate(frame.groupby("order_channel", sort=True)):
        fig.add_bar(
            x=[category_label(c) for c in part["category"]],
            y=part["revenue"],
            name=channel_label(channel),
            marker_color=PALETTE[i % len(PALETTE)],
            hovertemplate="%{x}: ¥%{y:,.0f}<extra></extra>",
        )
    fig.update_layout(barmode="stack", hovermode="closest")
    fig.update_yaxes(title=t("dash.chart.revenue"), tickprefix="¥")
    return layout(fig, title)


@plot_theme.reused
def monthly_by_category(frame: pd.DataFrame, measure: str = "revenue") -> go.Figure:
    title = t(f"prefs.chart.monthly_{measure}")
    if frame.empty:
        return empty(title)
    fig = go.Figure()
    for i, (category, part) in enumerate(frame.groupby("category", sort=True)):
        fig.add_scatter(
            x=pd.to_datetime(part["month"]),
            y=part[measure],
            name=category_label(category),
            mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    plot_theme.month_axis(fig, t("dash.chart.month"))
    fig.update_yaxes(
        title=t("dash.chart.revenue") if measure == "revenue" else t("prefs.col.buyers"),
        tickprefix="¥" if measure == "revenue" else "",
        rangemode="tozero",
    )
    return layout(fig, title)


def summary_table(frame: pd.DataFrame) -> None:
    shown = frame[["category", "revenue", "revenue_share", "buyers", "orders", "repeat_rate", "avg_order_value"]].copy()
    shown["category"] = shown["category"].map(category_label)
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "category": st.column_config.TextColumn(t("prefs.col.category")),
            "revenue": st.column_config.NumberColumn(t("prefs.col.revenue"), format="¥%,.0f"),
            "revenue_share": st.column_config.NumberColumn(t("prefs.col.revenue_share"), format="percent"),
            "buyers": st.column_config.NumberColumn(t("prefs.col.buyers"), format="%,d"),
            "orders": st.column_config.NumberColumn(t("prefs.col.orders"), format="%,d"),
            "repeat_rate": st.column_config.NumberColumn(t("prefs.col.repeat_rate"), format="percent"),
            "avg_order_value": st.column_config.NumberColumn(t("prefs.col.avg_order_value"), format="¥%,.0f"),
        },
    )


# ---------------------------------------------------------------- Overview: revenue outlook


@cached
def _outlook() -> dict:
    return outlook.outlook()


def outlook_section(user: auth.User) -> None:
    """The revenue outlook, computed only when its expander is opened (a model fit for the backtest)."""
    box = st.expander(
        t("prefs.outlook.title"), key="outlook", on_change="rerun", bind="query-params", icon=":material/insights:"
    )
    if not box.open:
        return
    with box:
        with st.spinner(t("prefs.outlook.computing")):
            o = _outlook()
        if o["model"] is None:
            st.info(t("prefs.outlook.no_model"))
            return
        st.caption(
            t(
                "prefs.outlook.caption",
                start=o["start"],
                end=o["end"],
                as_of=o["origin"],
                model=o["model"]["clv_model_id"],
            )
        )
        kpi_row(
            [
                {
                    "label": t("prefs.outlook.existing"),
                    "value": fmt_money_short(o["existing"]),
                    "help": t("prefs.outlook.existing_help"),
                },
                {
                    "label": t("prefs.outlook.new"),
                    "value": fmt_money_short(o["new"]),
                    "help": t("prefs.outlook.new_help"),
                },
                {
                    "label": t("prefs.outlook.total"),
                    "value": fmt_money_short(o["total"]),
                    "help": t("prefs.outlook.total_help"),
                },
            ]
        )
        months = pd.DataFrame(o["months"])
        months["period"] = [f"{a} – {b}" for a, b in zip(months["start"], months["end"])]
        st.dataframe(
            months[["period", "expected"]],
            hide_index=True,
            column_config={
                "period": st.column_config.TextColumn(t("prefs.outlook.month")),
                "expected": st.column_config.NumberColumn(t("prefs.outlook.existing_month"), format="¥%,.0f"),
            },
        )
        bt = o["backtest"]
        if not bt or not bt["available"]:
            st.caption(t("prefs.outlook.no_backtest"))
            return
        err = bt["error"]["total"]
        st.markdown(t("prefs.outlook.backtest_title", origin=bt["origin"], start=bt["start"], end=bt["end"]))
        kpi_row(
            [
                {"label": t("prefs.outlook.bt_forecast"), "value": fmt_money_short(bt["forecast"]["total"])},
                {"label": t("prefs.outlook.bt_actual"), "value": fmt_money_short(bt["actual"]["total"])},
                {
                    "label": t("prefs.outlook.bt_error"),
                    "value": EMPTY if err is None else f"{100 * err:+.1f}%",
                    "help": t("prefs.outlook.bt_error_help"),
                },
            ]
        )
        parts = pd.DataFrame(
            {
                "part": [t("prefs.outlook.existing"), t("prefs.outlook.new"), t("prefs.outlook.total")],
                "forecast": [bt["forecast"][k] for k in ("existing", "new", "total")],
                "actual": [bt["actual"][k] for k in ("existing", "new", "total")],
                "error": [bt["error"][k] for k in ("existing", "new", "total")],
            }
        )
        parts["error"] = [(EMPTY if e is None else f"{100 * e:+.1f}%") for e in parts["error"]]
        st.dataframe(
            parts,
            hide_index=True,
            column_config={
                "part": st.column_config.TextColumn(t("prefs.outlook.part")),
                "forecast": st.column_config.NumberColumn(t("prefs.outlook.bt_forecast"), format="¥%,.0f"),
                "actual": st.column_config.NumberColumn(t("prefs.outlook.bt_actual"), format="¥%,.0f"),
                "error": st.column_config.TextColumn(t("prefs.outlook.bt_error")),
            },
        )


# ---------------------------------------------------------------- Customer 360°: preferences


def customer_section(customer_id: int) -> None:
    """Favourite category, categories bought, browsed but not bought, price level, next offer."""
    st.subheader(t("prefs.c360.title"), help=t("prefs.c360.help"))
    row = preferences.of_customer(customer_id)
    if row is None:
        st.caption(t("prefs.c360.none"))
        return

    def names(codes) -> str:
        return (
            "、".join(category_label(c) for c in codes)
            if i18n.language() == "zh"
            else ", ".join(category_label(c) for c in codes)
        )

    kpi_row(
        [
            {
                "label": t("prefs.c360.favourite"),
                "value": category_label(row["favourite_category"]) if row["favourite_category"] else EMPTY,
            },
            {
                "label": t("prefs.c360.next"),
                "value": category_label(row["next_category"]) if row["next_category"] else EMPTY,
                "help": t("prefs.c360.next_help"),
            },
            {
                "label": t("prefs.c360.price_level"),
                "value": t(f"prefs.price_level.{row['price_level']}") if row["price_level"] else EMPTY,
                "help": t("prefs.c360.price_help"),
            },
            {
                "label": t("prefs.c360.mean_order"),
                "value": fmt_money(row["mean_order_value"]) if row["mean_order_value"] is not None else EMPTY,
            },
        ]
    )
    st.markdown(
        t("prefs.c360.bought", categories=names(row["categories_bought"]) or EMPTY, orders=fmt_int(row["kept_orders"]))
    )
    st.markdown(t("prefs.c360.browsed", days=row["window_days"], categories=names(row["browsed_not_bought"]) or EMPTY))
    st.caption(t("prefs.c360.as_of", as_of=row["as_of"]))
