"""Plotly figure builders: small DataFrames in, `go.Figure` out, labels in the current language.

Builders never query: pages pass the frames that lib/dashboards/metrics.py or lib/dashboards/customers.py returned,
so the same frame feeds the chart and its CSV download. Other areas append their builders here.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.core import i18n, plot_theme
from lib.core.i18n import t

PALETTE = plot_theme.PALETTE
FONT = plot_theme.FONT


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    if fig.layout.hovermode is None:
        fig.update_layout(hovermode="x unified")
    return plot_theme.apply(fig, title, height)


def empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=t("dash.chart.empty"), showarrow=False, font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, 220)


def label(value) -> str:
    """A dimension value for display ('' and NULL are unknown)."""
    return t("dash.unknown") if value in (None, "") or (isinstance(value, float) and value != value) else str(value)


def stage_label(stage) -> str:
    return t(f"dash.stage.{stage}") if stage else t("dash.stage.none")


def dimension_label(dimension: str, value) -> str:
    """A value of an Overview dimension as the sidebar filters and the charts show it: stages
    source channels and industries by their names in the current language (any dimension with
    `dash.<dimension>.<code>` keys), provinces and other values as stored; '' and NULL are unknown (stage: none yet)."""
    if dimension == "lifecycle_stage":
        return stage_label(value)
    if (
        dimension in ("channel", "industry", "source", "customer_type")
        and value
        and i18n.has(f"dash.{dimension}.{value}")
    ):
        return t(f"dash.{dimension}.{value}")
    return label(value)


@plot_theme.reused
def monthly_customers(frame: pd.DataFrame) -> go.Figure:
    """New customers (bars) and active customers (line) per month."""
    title = t("dash.chart.trend_title")
    if frame.empty:
        return empty(title)
    months = pd.to_datetime(frame["month"])
    fig = go.Figure()
    fig.add_bar(x=months, y=frame["new_customers"], name=t("dash.chart.new_customers"), marker_color=PALETTE[0])
    fig.add_scatter(
        x=months,
        y=frame["active_customers"],
        name=t("dash.chart.active_customers"),
        mode="lines+markers",
        line={"color": PALETTE[1], "width": 3},
    )
    plot_theme.month_axis(fig, t("dash.chart.month"))
    fig.update_yaxes(title=t("dash.chart.customers"), rangemode="tozero")
    return _layout(fig, title)


@plot_theme.reused
def monthly_revenue(frame: pd.DataFrame) -> go.Figure:
    title = t("dash.chart.revenue_title")
    if frame.empty:
        return empty(title)
    fig = go.Figure(
        go.Bar(
            x=pd.to_datetime(frame["month"]),
            y=frame["revenue"],
            name=t("dash.chart.revenue"),
            marker_color=PALETTE[2],
            hovertemplate="%{x|%Y-%m}: ¥%{y:,.0f}<extra></extra>",
        )
    )
    plot_theme.month_axis(fig, t("dash.chart.month"))
    fig.update_yaxes(title=t("dash.chart.revenue"), rangemode="tozero", tickprefix="¥")
    return _layout(fig, title)


@plot_theme.reused
def breakdown(frame: pd.DataFrame, dimension: str, metric: str = "customers", top: int = 15) -> go.Figure:
    """Ranked horizontal bars of one breakdown dimension (rows of metrics.breakdowns)."""
    title = t(f"dash.chart.by.{dimension}")
    part = frame[frame["dimension"] == dimension]
    if dimension == "industry":  # B2C customers have none: the chart is about B2B contacts
        part = part[part["value"] != ""]
    part = part.sort_values(metric, ascending=False).head(top)
    if part.empty or not part[metric].any():
        return empty(title)
    part = part.iloc[::-1]
    money = metric == "revenue"
    fig = go.Figure(
        go.Bar(
            x=part[metric],
            y=[dimension_label(dimension, v) for v in part["value"]],
            orientation="h",
            marker_color=PALETTE[["customers", "new_customers", "revenue"].index(metric)],
            text=[f"¥{v:,.0f}" if money else f"{int(v):,}" for v in part[metric]],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t(f"dash.metric.{metric}"), tickprefix="¥" if money else "")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=max(240, 28 * len(part) + 90))


@plot_theme.reused
def lifecycle_funnel(frame: pd.DataFrame) -> go.Figure:
    """Customers who reached each stage, with conversion from the stage before."""
    title = t("dash.chart.funnel_title")
    if frame.empty or not frame["reached"].any():
        return empty(title)
    text = [
        f"{int(r.reached):,}" + ("" if pd.isna(r.conversion) else f" · {100 * r.conversion:.1f}%")
        for r in frame.itertuples()
    ]
    fig = go.Figure(
        go.Funnel(
            y=[stage_label(s) for s in frame["stage"]],
            x=frame["reached"],
            text=text,
            textinfo="text",
            marker={"color": PALETTE[: len(frame)]},
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_layout(hovermode="closest")
    return _layout(fig, title)


@plot_theme.reused
def cohort_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Retention share per first-purchase month (rows) and months since (columns)."""
    title = t("dash.chart.cohort_title")
    if frame.empty:
        return empty(title)
    grid = frame.pivot(index="cohort_month", columns="months_since", values="retention").sort_index()
    counts = frame.pivot(index="cohort_month", columns="months_since", values="customers").reindex_like(grid)
    rows = [pd.Timestamp(m).strftime("%Y-%m") for m in grid.index]
    text = [[("" if pd.isna(v) else f"{100 * v:.0f}%") for v in row] for row in grid.values]
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=[int(c) for c in grid.columns],
            y=rows,
            text=text,
            texttemplate="%{text}",
            customdata=counts.values,
            colorscale="Blues",
            zmin=0,
            zmax=max(0.3, float(frame.loc[frame["months_since"] > 0, "retention"].max() or 0)),
            colorbar={"title": t("dash.chart.retention"), "tickformat": ".0%"},
            hovertemplate=(
                f"{t('dash.chart.cohort')} %{{y}}<br>{t('dash.chart.months_since')} %{{x}}"
                "<br>%{z:.1%} (%{customdata:,})<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title=t("dash.chart.months_since"), dtick=1)
    fig.update_yaxes(title=t("dash.chart.cohort"), autorange="reversed", type="category")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=max(300, 22 * len(rows) + 110))


EVENT_SYMBOLS = {
    "browse": "circle-open",
    "add_to_cart": "diamond",
    "purchase": "circle",
    "consult": "square",
    "complaint": "x",
    "return": "triangle-down",
}


@plot_theme.reused
def customer_timeline(events: pd.DataFrame, orders: pd.DataFrame) -> go.Figure:
    """One customer's events (one row per type) and orders (sized by amount) over time."""
    title = t("dash.chart.timeline_title")
    if events.empty and orders.empty:
        return empty(title)
    fig = go.Figure()
    for i, kind in enumerate(EVENT_SYMBOLS):
        part = events[events["event_type"] == kind] if not events.empty else events
        if part.empty:
            continue
        fig.add_scatter(
            x=part["event_time"],
            y=[t(f"dash.event.{kind}")] * len(part),
            mode="markers",
            name=t(f"dash.event.{kind}"),
            marker={"symbol": EVENT_SYMBOLS[kind], "size": 9, "color": PALETTE[i]},
            customdata=[i18n.code_label("dash.channel", c) if isinstance(c, str) else "" for c in part["channel"]],
            hovertemplate="%{x|%Y-%m-%d %H:%M} · %{customdata}<extra>%{y}</extra>",
        )
    if not orders.empty:
        amounts = orders["amount"].astype(float)
        size = 8 + 22 * (amounts / max(float(amounts.max()), 1.0)) ** 0.5
        fig.add_scatter(
            x=orders["order_time"],
            y=[t("dash.event.order")] * len(orders),
            mode="markers",
            name=t("dash.event.order"),
            marker={"size": size, "color": PALETTE[9], "opacity": 0.7, "line": {"width": 1, "color": "#7c2d12"}},
            customdata=list(zip(amounts, [i18n.code_label("dash.order.status", s) for s in orders["status"]])),
            hovertemplate="%{x|%Y-%m-%d} · ¥%{customdata[0]:,.2f} · %{customdata[1]}<extra></extra>",
        )
    plot_theme.date_axis(fig, t("dash.chart.time"))
    fig.update_yaxes(title=None, type="category")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=360)


# ---------------------------------------------------------------- marketing (RFM, segments, churn, CLV)


@plot_theme.reused
def rfm_treemap(summary: pd.DataFrame) -> go.Figure:
    """RFM segments sized by customers, coloured by average value (lib.marketing.rfm.summary)."""
    title = t("marketing.chart.rfm_treemap")
    if summary.empty:
        return empty(title)
    labels = [t(f"marketing.rfm.seg.{rfm_slug(s)}") for s in summary["segment"]]
    custom = list(zip(summary["customer_share"], summary["revenue_share"].fillna(0), summary["avg_value"]))
    fig = go.Figure(
        go.Treemap(
            labels=labels,
            parents=[""] * len(labels),
            values=summary["customers"],
            root={"color": "rgba(0,0,0,0)"},
            tiling={"pad": 2},
            marker={
                "colors": summary["avg_value"],
                "pad": {"t": 0, "l": 0, "r": 0, "b": 0},  # no dark frame of the (unlabelled) root around the tiles
                "colorscale": "Blues",
                "colorbar": {"title": t("marketing.rfm.avg_value")},
            },
            customdata=custom,
            texttemplate="<b>%{label}</b><br>%{value:,}<br>%{customdata[1]:.1%}",
            hovertemplate=(
                "<b>%{label}</b><br>" + t("marketing.rfm.customers") + " %{value:,} "
                "(%{customdata[0]:.1%})<br>"
                + t("marketing.rfm.revenue_share")
                + " %{customdata[1]:.1%}<br>"
                + t("marketing.rfm.avg_value")
                + " ¥%{customdata[2]:,.0f}<extra></extra>"
            ),
        )
    )
    # a small segment's tile would shrink its label to an unreadable few pixels: hidden instead
    # (its figures are in the hover and the table beside the chart)
    fig.update_layout(hovermode="closest", uniformtext={"minsize": 11, "mode": "hide"})
    return _layout(fig, title, height=420)


def rfm_slug(segment: str) -> str:
    """i18n key part of an RFM segment name: "Can't Lose Them" -> cant_lose_them."""
    return "".join(ch for ch in segment.lower().replace(" ", "_") if ch.isalnum() or ch == "_")


def rfm_label(segment: str) -> str:
    """An RFM segment's name in the current language; the queries' placeholders for customers
    without a segment ("(no purchase)", "(not in RFM snapshot)") read as no purchase."""
    return t("marketing.rfm.none") if segment.startswith("(") else t(f"marketing.rfm.seg.{rfm_slug(segment)}")


@plot_theme.reused
def rfm_heatmap(grid: pd.DataFrame) -> go.Figure:
    """Customers per recency (rows) and frequency (columns) score (lib.marketing.rfm.score_grid)."""
    title = t("marketing.chart.rfm_grid")
    if grid.empty:
        return empty(title)
    pivot = (
        grid.pivot(index="r_score", columns="f_score", values="customers")
        .reindex(index=[5, 4, 3, 2, 1], columns=[1, 2, 3, 4, 5])
        .fillna(0)
    )
    fig = go.Figure(
        go.Heatmap(
            z=pivot.values,
            x=[f"F{c}" for c in pivot.columns],
            y=[f"R{r}" for r in pivot.index],
            text=[[f"{int(v):,}" for v in row] for row in pivot.values],
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate="%{y} %{x}: %{z:,}<extra></extra>",
        )
    )
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=420)


@plot_theme.reused
def lifecycle_stage_counts(as_of: dict, stored: dict) -> go.Figure:
    """Customers per lifecycle stage: computed as of the date vs stored on the customers."""
    title = t("marketing.chart.lifecycle")
    stages = list(as_of)
    if not any(as_of.values()) and not any(stored.values()):
        return empty(title)
    fig = go.Figure()
    fig.add_bar(
        x=[stage_label(s) for s in stages],
        y=[as_of[s] for s in stages],
        name=t("marketing.lifecycle.as_of"),
        marker_color=PALETTE[0],
    )
    fig.add_bar(
        x=[stage_label(s) for s in stages],
        y=[stored.get(s, 0) for s in stages],
        name=t("marketing.lifecycle.stored"),
        marker_color=PALETTE[8],
    )
    fig.update_layout(barmode="group", hovermode="closest")
    return _layout(fig, title)


@plot_theme.reused
def audience_bars(frame: pd.DataFrame) -> go.Figure:
    """Members, with consent, with a valid contact and reachable, per channel (lib.marketing.audience)."""
    title = t("marketing.chart.audience")
    if frame.empty:
        return empty(title)
    fig = go.Figure()
    for i, col in enumerate(("consenting", "valid_contact", "reachable")):
        fig.add_bar(
            x=[t(f"marketing.channel.{c}") for c in frame["channel"]],
            y=frame[col],
            name=t(f"marketing.audience.{col}"),
            marker_color=PALETTE[i],
            text=[f"{int(v):,}" for v in frame[col]],
            textposition="outside",
        )
    fig.update_layout(barmode="group", hovermode="closest")
    return _layout(fig, title, height=320)


@plot_theme.reused
def segment_overlap(o: dict, name_a: str, name_b: str) -> go.Figure:
    """Only A, both, only B as one stacked bar (lib.marketing.segments.overlap)."""
    title = t("marketing.chart.overlap")
    if not o.get("union_ab"):
        return empty(title)
    fig = go.Figure()
    for value, name, color in (
        (o["a_only"], t("marketing.compare.only", name=name_a), PALETTE[0]),
        (o["both_ab"], t("marketing.compare.both"), PALETTE[4]),
        (o["b_only"], t("marketing.compare.only", name=name_b), PALETTE[1]),
    ):
        fig.add_bar(
            y=[""],
            x=[value],
            name=name,
            orientation="h",
            marker_color=color,
            text=[f"{value:,}"],
            textposition="inside",
        )
    fig.update_layout(barmode="stack", hovermode="closest")
    return _layout(fig, title, height=200)


@plot_theme.reused
def churn_calibration(calibration: dict) -> go.Figure:
    """Observed churn rate against predicted probability per holdout decile."""
    title = t("marketing.chart.calibration")
    predicted, observed = calibration.get("predicted", []), calibration.get("observed", [])
    if not predicted:
        return empty(title)
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name=t("marketing.churn.perfect"), line={"dash": "dash", "color": PALETTE[8]}
    )
    fig.add_scatter(
        x=predicted,
        y=observed,
        mode="lines+markers",
        name=t("marketing.churn.model"),
        marker_color=PALETTE[0],
        hovertemplate="%{x:.1%} → %{y:.1%}<extra></extra>",
    )
    fig.update_xaxes(title=t("marketing.churn.predicted"), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=t("marketing.churn.observed"), tickformat=".0%", range=[0, 1])
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=360)


@plot_theme.reused
def feature_importance(importance: list[dict], top: int = 12) -> go.Figure:
    """Permutation importance (drop in holdout ROC AUC) of the strongest features."""
    title = t("marketing.chart.importance")
    rows = sorted(importance, key=lambda d: d["importance"], reverse=True)[:top][::-1]
    if not rows:
        return empty(title)
    fig = go.Figure(
        go.Bar(
            y=[t(f"marketing.feature.{r['feature']}") for r in rows],
            x=[r["importance"] for r in rows],
            error_x={"type": "data", "array": [r["std"] for r in rows]},
            orientation="h",
            marker_color=PALETTE[0],
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=t("marketing.churn.auc_drop"))
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=max(300, 26 * len(rows) + 90))


@plot_theme.reused
def clv_backtest(by_bucket: list[dict]) -> go.Figure:
    """Mean predicted vs actual purchases in the holdout, by repeat purchases before it."""
    title = t("marketing.chart.clv_backtest")
    if not by_bucket:
        return empty(title)
    labels = [f"{b['bucket']}+" if b["bucket"] == 7 else str(b["bucket"]) for b in by_bucket]
    fig = go.Figure()
    fig.add_scatter(
        x=labels,
        y=[b["actual"] for b in by_bucket],
        mode="lines+markers",
        name=t("marketing.clv.actual"),
        marker_color=PALETTE[1],
    )
    fig.add_scatter(
        x=labels,
        y=[b["predicted"] for b in by_bucket],
        mode="lines+markers",
        name=t("marketing.clv.predicted"),
        marker_color=PALETTE[0],
        line={"dash": "dash"},
    )
    fig.update_xaxes(title=t("marketing.clv.repeat_before"), type="category")
    fig.update_yaxes(title=t("marketing.clv.purchases_per_customer"))
    return _layout(fig, title, height=360)


@plot_theme.reused
def clv_by_segment(frame: pd.DataFrame) -> go.Figure:
    """Total expected value per RFM segment (lib.marketing.clv.by_segment)."""
    title = t("marketing.chart.clv_segments")
    if frame.empty:
        return empty(title)
    part = frame.sort_values("total_clv")
    names = [
        t(f"marketing.rfm.seg.{rfm_slug(s)}") if not s.startswith("(") else t("marketing.rfm.none")
        for s in part["rfm_segment"]
    ]
    fig = go.Figure(
        go.Bar(
            y=names,
            x=part["total_clv"].astype(float),
            orientation="h",
            marker_color=PALETTE[2],
            customdata=part["avg_clv"].astype(float),
            hovertemplate="%{y}: ¥%{x:,.0f} (" + t("marketing.clv.avg") + " ¥%{customdata:,.0f})<extra></extra>",
        )
    )
    fig.update_xaxes(tickprefix="¥")
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=max(280, 28 * len(part) + 90))


@plot_theme.reused
def tag_counts(frame: pd.DataFrame, top: int = 20) -> go.Figure:
    title = t("marketing.chart.tags")
    if frame.empty:
        return empty(title)
    part = frame.head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            y=part["tag"],
            x=part["customers"],
            orientation="h",
            marker_color=PALETTE[4],
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_layout(hovermode="closest")
    return _layout(fig, title, height=max(240, 26 * len(part) + 90))


@plot_theme.reused
def feedback_trend(frame: pd.DataFrame) -> go.Figure:
    """NPS (line, left axis, -100..100) and CSAT (line, right axis, %) per month, with the
    response counts in the hover text; months without responses leave a gap."""
    title = t("fb.chart.trend_title")
    if frame.empty or not (frame["nps_responses"].sum() or frame["csat_responses"].sum()):
        return empty(title)
    months = pd.to_datetime(frame["month"])
    fig = go.Figure()
    fig.add_scatter(
        x=months,
        y=frame["nps"],
        name=t("fb.chart.nps"),
        mode="lines+markers",
        line={"color": PALETTE[0], "width": 3},
        customdata=frame["nps_responses"],
        hovertemplate="%{y:+.1f} (n=%{customdata:,})<extra></extra>",
    )
    fig.add_scatter(
        x=months,
        y=100 * frame["csat"],
        name=t("fb.chart.csat"),
        mode="lines+markers",
        yaxis="y2",
        line={"color": PALETTE[2], "width": 3, "dash": "dot"},
        customdata=frame["csat_responses"],
        hovertemplate="%{y:.1f}% (n=%{customdata:,})<extra></extra>",
    )
    plot_theme.month_axis(fig, t("dash.chart.month"))
    fig.update_layout(
        yaxis={"title": t("fb.chart.nps"), "range": [-100, 100]},
        yaxis2={"title": t("fb.chart.csat_pct"), "range": [0, 100], "overlaying": "y", "side": "right"},
    )
    return _layout(fig, title)
