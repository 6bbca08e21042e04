"""The one look of every chart: fonts (with the CJK fallbacks Chinese labels need), colours,
margins, a horizontal legend above the plot (never over an axis title), date axes that do not
crowd their labels, and a single point drawn as a readable marker.

Chart builders (`lib/dashboards/charts.py`, `lib/stewardship/charts.py`, any later area's
`charts.py`) end with `plot_theme.apply(fig, title, height)`. The look is written into the
figure's own layout (Streamlit's chart theme replaces a figure's template in the browser but
keeps its explicit layout), and it is also registered as the plotly template "c360" for code
that builds a figure with `template="c360"`.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

NAME = "c360"
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899", "#64748b", "#f97316"]
FONT = (
    "Inter, 'Source Sans Pro', 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Micro Hei', "
    "'Noto Sans CJK SC', 'Noto Sans SC', sans-serif"
)
TITLE_SIZE = 15
# title on the first line, legend on the second, both above the plot area
MARGIN = {"l": 10, "r": 10, "t": 84, "b": 10}
MARGIN_NO_LEGEND = {"l": 10, "r": 10, "t": 48, "b": 10}
LEGEND = {
    "orientation": "h",
    "yanchor": "bottom",
    "y": 1.02,
    "xanchor": "left",
    "x": 0,
    "title": {"text": ""},
    "font": {"size": 12},
}
MONTH_FORMAT = "%Y-%m"
DAY_FORMAT = "%Y-%m-%d"

LAYOUT: dict[str, Any] = {
    "font": {"family": FONT, "size": 13},
    "colorway": PALETTE,
    "legend": LEGEND,
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"font": {"family": FONT}},
    "xaxis": {"automargin": True, "title": {"standoff": 8}},
    "yaxis": {"automargin": True, "title": {"standoff": 8}},
}


def _register() -> None:
    if NAME not in pio.templates:
        pio.templates[NAME] = go.layout.Template(layout=LAYOUT)


_register()


_LEGEND_TYPES = {"scatter", "scattergl", "bar", "histogram", "box", "violin", "funnel", "area", "waterfall"}


def apply(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    """Give `fig` the shared look; returns it. Called last by every chart builder."""
    entries = [tr for tr in fig.data if tr.type in _LEGEND_TYPES and getattr(tr, "showlegend", None) is not False]
    legend = fig.layout.showlegend is not False and (
        len(entries) > 1 or any(getattr(tr, "showlegend", None) for tr in fig.data)
    )
    layout: dict[str, Any] = {
        "template": NAME,
        "font": LAYOUT["font"],
        "colorway": PALETTE,
        "legend": LEGEND,
        "plot_bgcolor": LAYOUT["plot_bgcolor"],
        "margin": MARGIN if legend else MARGIN_NO_LEGEND,
    }
    if title is not None:
        layout["title"] = {
            "text": title,
            "x": 0,
            "xanchor": "left",
            "y": 0.98,
            "yanchor": "top",
            "font": {"size": TITLE_SIZE},
        }
    if height is not None:
        layout["height"] = height
    # one update: each update_layout call re-walks and re-validates what it is given, and the
    # separate calls cost ~14 ms a chart on every page run
    axes = [k for k in fig.layout if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]
    layout.update({k: {"automargin": True} for k in axes})
    fig.update_layout(layout)
    _single_points(fig)
    return fig


def month_axis(fig: go.Figure, title: str | None = None) -> None:
    """A monthly date x axis: "2026-03" labels, spaced by plotly so they never overlap (a tick
    every month crowded twelve or more labels into each other and into the legend)."""
    fig.update_xaxes(title=title, tickformat=MONTH_FORMAT, hoverformat=MONTH_FORMAT, nticks=8, ticklabelmode="period")


def _single_points(fig: go.Figure) -> None:
    """A line with one point is drawn as a large marker with its value beside it (a lone dot
    with a label on top of it said nothing)."""
    for trace in fig.data:
        if trace.type != "scatter" or trace.y is None or len(trace.y) != 1:
            continue
        mode = trace.mode or "lines"
        if "markers" not in mode:
            trace.mode = mode + "+markers"
        trace.marker.size = max(trace.marker.size or 0, 10)
    scatters = [tr for tr in fig.data if tr.type == "scatter" and tr.x is not None and len(tr.x) == 1]
    if scatters and all(len(tr.x) == 1 for tr in fig.data if tr.type == "scatter"):
        fig.update_xaxes(type="category")  # one run/month: a category axis, not a 0.5-wide numeric range
