"""Plotly figure builders for the data-quality scorecard (return go.Figure; no Streamlit)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.core import i18n, plot_theme
from lib.core.i18n import t


CODES = ("dash.source", "dash.channel")  # channel and source codes as shown in both languages


def _layout(fig: go.Figure, height: int = 320) -> go.Figure:
    title = fig.layout.title.text
    return plot_theme.apply(fig, title, height)


@plot_theme.reused
def score_trend(trend: pd.DataFrame, dimensions: tuple[str, ...]) -> go.Figure:
    """Overall and per-dimension score across runs."""
    fig = go.Figure()
    if not trend.empty:
        fig.add_trace(
            go.Scatter(
                x=trend["run_id"],
                y=trend["overall"] * 100,
                mode="lines+markers",
                name=t("stewards.q.overall"),
                line=dict(width=4),
            )
        )
        for d in dimensions:
            if d in trend:
                fig.add_trace(
                    go.Scatter(x=trend["run_id"], y=trend[d] * 100, mode="lines", name=t(f"stewards.dim.{d}"))
                )
    fig.update_layout(
        title=t("stewards.q.trend"), xaxis_title=t("stewards.q.run"), yaxis_title=t("stewards.q.score_pct")
    )
    fig.update_xaxes(dtick=1, type="category")
    return _layout(fig)


@plot_theme.reused
def score_bars(frame: pd.DataFrame, key: str, title: str) -> go.Figure:
    """Horizontal bars of score per group (worst first), with failed/checked in the hover."""
    frame = frame.sort_values("score", ascending=False)
    labels = [t(f"stewards.field.{v}") if key == "field" else i18n.code_label(CODES, v) for v in frame[key]]
    fig = go.Figure(
        go.Bar(
            x=frame["score"] * 100,
            y=labels,
            orientation="h",
            text=[f"{s * 100:.1f}%" for s in frame["score"]],
            textposition="auto",
            customdata=list(zip(frame["failed"], frame["checked"])),
            hovertemplate="%{y}: %{x:.2f}%<br>%{customdata[0]:,} / %{customdata[1]:,}<extra></extra>",
            marker_color=["#d62728" if s < 0.95 else "#ff7f0e" if s < 0.99 else "#2ca02c" for s in frame["score"]],
        )
    )
    fig.update_layout(title=title, xaxis_title=t("stewards.q.score_pct"))
    fig.update_xaxes(range=[min(80.0, float(frame["score"].min() * 100) - 2) if len(frame) else 80, 100])
    return _layout(fig, height=max(240, 40 + 28 * len(frame)))


@plot_theme.reused
def source_dimension_heatmap(frame: pd.DataFrame, dimensions: tuple[str, ...]) -> go.Figure:
    """Score per source (rows) and dimension (columns): which channel brings the bad data."""
    pivot = frame.pivot(index="source", columns="dimension", values="score")
    cols = [d for d in dimensions if d in pivot.columns]
    pivot = pivot[cols]
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy() * 100,
            x=[t(f"stewards.dim.{d}") for d in cols],
            y=[i18n.code_label(CODES, v) for v in pivot.index],
            colorscale="RdYlGn",
            zmin=85,
            zmax=100,
            text=[[f"{v:.1f}" if v == v else "" for v in row] for row in pivot.to_numpy() * 100],
            texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z:.2f}%<extra></extra>",
        )
    )
    fig.update_layout(title=t("stewards.q.by_source_dimension"))
    return _layout(fig, height=max(260, 80 + 34 * len(pivot)))
