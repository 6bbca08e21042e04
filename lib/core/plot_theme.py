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

import datetime as dt
import functools
import hashlib
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from lib.core import i18n

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
    # "8,000" rather than "8000" (plotly separates thousands only when told)
    layout.update({k: {"automargin": True, "separatethousands": True} for k in axes})
    layout["margin"] = _margins(fig, layout["margin"])
    if i18n.language() == "zh":
        # plotly's "k"/"M"/"B" are English: 万/亿 ticks where the drawn values are known, full
        # numbers with separators elsewhere (histogram counts, colour bars)
        whole = {"exponentformat": "none", "separatethousands": True}
        ticks = _chinese_number_ticks(fig)
        for name in axes:
            layout[name] = {**layout[name], **ticks.get(name, whole)}
        for trace in fig.data:  # only traces that draw a colour bar (setting one draws it)
            if trace.type in ("heatmap", "histogram2d", "contour") and trace.showscale is not False:
                trace.colorbar.update(whole)
            marker = getattr(trace, "marker", None)
            if marker is not None and getattr(marker, "colorscale", None) is not None and marker.showscale is not False:
                marker.colorbar.update(whole)
    fig.update_layout(layout)
    _single_points(fig)
    return fig


# Room for the axes' labels and titles, estimated. Plotly's automargin (kept, for whatever the
# estimate misses) measures the labels after drawing and, when they need more room than the
# margins give, draws the whole figure a second time: a third of the drawing time in a 2-core
# browser. Margins that already hold the labels spare that second drawing; a few pixels too many
# cost nothing.
CHAR_PX = 7.5  # a digit or Latin letter at the 13 px font (a little wider than most)
WIDE_CHAR_PX = 14.0  # a Chinese character
NARROW_CHAR_PX = 6.8  # a lower-case letter, a space or punctuation
NUMBER_CHARS = 6  # plotly's tick labels for numbers: "150k", "1.5M", "−20%"
TICKS_BELOW = 36  # an x axis's tick labels and their gap
ROTATED_AT_PX = 380  # x tick labels wider than this side by side are turned (a half-width chart)
AXIS_TITLE = 30  # an axis title and its standoff
EDGE = 16
_CARTESIAN = {"scatter", "scattergl", "bar", "histogram", "box", "violin", "heatmap", "waterfall"}


def _margins(fig: go.Figure, margin: dict[str, int]) -> dict[str, int]:
    if not any(tr.type in _CARTESIAN for tr in fig.data):
        return margin  # a funnel, treemap or a figure without axes: no axis labels to hold
    out: dict[str, float] = dict(margin)
    x, y = fig.layout.xaxis, fig.layout.yaxis
    if x.visible is not False:
        out["b"] = max(out["b"], _ticks_below_px(fig) + (AXIS_TITLE if x.title.text else 0))
    if y.visible is not False:
        out["l"] = max(out["l"], EDGE + _labels_px(fig, y, "y") + (AXIS_TITLE if y.title.text else 0))
    right = fig.layout["yaxis2"] if "yaxis2" in fig.layout else None  # only a figure with two y axes has one
    if right is not None and right.overlaying and right.side == "right" and right.visible is not False:
        out["r"] = max(out["r"], EDGE + _labels_px(fig, right, "y2") + (AXIS_TITLE if right.title.text else 0))
    return {side: round(px) for side, px in out.items()}


def _labels_px(fig: go.Figure, axis: Any, ref: str) -> float:
    """The widest tick label of vertical axis `ref` (y, y2): its categories, or a number."""
    categories = _categories(fig, ref)
    if categories:
        return max(_text_px(c) for c in categories)
    affixes = len(axis.tickprefix or "") + len(axis.ticksuffix or "")
    return (NUMBER_CHARS + affixes) * CHAR_PX


def _ticks_below_px(fig: go.Figure) -> float:
    """The room an x axis's tick labels take: categories that do not fit side by side in a
    half-width chart are turned 30 degrees by plotly, and then take half their width in height."""
    categories = _categories(fig, "x")
    widest = max((_text_px(c) for c in categories), default=0.0)
    if len(set(categories)) * (widest + 8) > ROTATED_AT_PX:
        return max(TICKS_BELOW, widest / 2 + 26)
    return TICKS_BELOW


def _categories(fig: go.Figure, ref: str) -> list[str]:
    """The category labels the traces drawn on axis `ref` (x, y, y2) put on it."""
    letter = ref[0]
    categories: list[str] = []
    for trace in fig.data:
        if (getattr(trace, f"{letter}axis", None) or letter) != ref:
            continue
        values = getattr(trace, letter, None)
        if values is not None and len(values) and isinstance(values[0], str):
            categories.extend(values[:500])
    return categories


def _text_px(text: str) -> float:
    return sum(_char_px(ch) for ch in text)


def _char_px(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in "WF":
        return WIDE_CHAR_PX
    if ch.islower() or ch in " .,:;'()-/":
        return NARROW_CHAR_PX
    return CHAR_PX


# Chinese reads large numbers in 万 (10^4) and 亿 (10^8): "¥1.5亿", "40万", where plotly writes
# "¥150M", "400k" whatever the language. In Chinese, a numeric value axis reaching 10,000 gets
# its ticks placed and labelled here, from the values its traces draw.
WAN, YI = 10_000, 100_000_000


def _chinese_number_ticks(fig: go.Figure) -> dict[str, dict]:
    """{axis name: tickvals and ticktext} for the numeric value axes of `fig` that reach 10,000."""
    extents: dict[str, list[float]] = {}
    stacks: dict[tuple[str, Any], float] = {}
    stacked = fig.layout.barmode in ("stack", "relative")
    for trace in fig.data:
        if trace.type not in ("scatter", "scattergl", "bar"):
            continue
        across = trace.type == "bar" and trace.orientation == "h"
        letter, other = ("x", "y") if across else ("y", "x")
        ref = getattr(trace, f"{letter}axis", None) or letter
        drawn = getattr(trace, letter, None)
        values = pd.to_numeric(pd.Series([] if drawn is None else list(drawn), dtype=object), errors="coerce")
        if values.isna().all():
            continue
        low, high = float(values.min()), float(values.max())
        if trace.type == "bar":
            low, high = min(low, 0.0), max(high, 0.0)
            if stacked:  # a stack reaches the sum of its positive parts
                categories = getattr(trace, other, None)
                for category, value in zip(range(len(values)) if categories is None else categories, values):
                    if value > 0:
                        stacks[(ref, category)] = stacks.get((ref, category), 0.0) + float(value)
        extent = extents.setdefault(ref, [low, high])
        extent[0], extent[1] = min(extent[0], low), max(extent[1], high)
    for (ref, _category), total in stacks.items():
        extents[ref][1] = max(extents[ref][1], total)
    out: dict[str, dict] = {}
    for ref, (low, high) in extents.items():
        name = f"{ref[0]}axis{ref[1:]}"
        axis = fig.layout[name]
        if axis.type in ("category", "date", "log") or axis.tickformat or axis.tickvals is not None:
            continue
        if axis.range is not None:
            low, high = (float(v) for v in axis.range)
        if max(abs(low), abs(high)) < WAN or high <= low:
            continue
        step = _nice_step((high - low) / 5)
        ticks = np.arange(np.ceil(low / step) * step, high + step / 1000, step)
        prefix, suffix = axis.tickprefix or "", axis.ticksuffix or ""
        out[name] = {"tickvals": ticks.tolist(), "ticktext": [prefix + _wan(v) + suffix for v in ticks]}
    return out


def _nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, at least `rough`."""
    power = 10 ** np.floor(np.log10(rough))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= rough))


def _wan(value: float) -> str:
    """A tick value in 万/亿: 150000000 -> "1.5亿", 400000 -> "40万", 5000 -> "5000"."""
    for unit, name in ((YI, "亿"), (WAN, "万")):
        if abs(value) >= unit:
            return f"{value / unit:.4g}{name}"
    return f"{value:.4g}"


def month_axis(fig: go.Figure, title: str | None = None) -> None:
    """A monthly date x axis: "2026-03" labels, spaced by plotly so they never overlap (a tick
    every month crowded twelve or more labels into each other and into the legend)."""
    fig.update_xaxes(title=title, tickformat=MONTH_FORMAT, hoverformat=MONTH_FORMAT, nticks=8, ticklabelmode="period")


# Tick labels for a date axis of any span, as numbers: plotly's own labels name months in English
# ("Nov 2025") whatever the page's language.
DATE_TICK_STOPS = (
    {"dtickrange": [None, 86_400_000], "value": "%m-%d %H:%M"},
    {"dtickrange": [86_400_000, "M1"], "value": "%Y-%m-%d"},
    {"dtickrange": ["M1", "M12"], "value": MONTH_FORMAT},
    {"dtickrange": ["M12", None], "value": "%Y"},
)


def date_axis(fig: go.Figure, title: str | None = None) -> None:
    """A date x axis spanning hours to years, labelled "2026-03-14", "2026-03" or "2026"."""
    fig.update_xaxes(title=title, tickformatstops=list(DATE_TICK_STOPS), hoverformat="%Y-%m-%d %H:%M")


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


# ---------------------------------------------------------------- figures built once
#
# plotly validates every property a figure is given: building one costs 10-15 ms of a page run,
# more than the page's cached queries, and a page shows the same figures on every view until
# its data change. A builder decorated with `reused` returns the figure it built before for
# equal arguments (compared by content: frames by their values, index, columns and types) in
# the same language. The figure is shared by every session of the process, so nobody may
# change a figure a builder has returned (st.plotly_chart only reads it).

Builder = TypeVar("Builder", bound=Callable[..., go.Figure])
REUSED_MAX = 256  # figures kept per process; small (a chart's few hundred points)
_reused: OrderedDict[tuple, go.Figure] = OrderedDict()
_reused_lock = threading.Lock()


def reused(build: Builder) -> Builder:
    """Keep the figures `build` returns and return the same one for equal arguments."""

    @functools.wraps(build)
    def call(*args: Any, **kwargs: Any) -> go.Figure:
        try:
            key = (build.__module__, build.__qualname__, i18n.language(), _digest(args, kwargs))
        except (TypeError, ValueError):  # an argument without a content fingerprint: built every time
            return build(*args, **kwargs)
        with _reused_lock:
            figure = _reused.get(key)
            if figure is not None:
                _reused.move_to_end(key)
                return figure
        figure = build(*args, **kwargs)
        with _reused_lock:
            _reused[key] = figure
            while len(_reused) > REUSED_MAX:
                _reused.popitem(last=False)
        return figure

    return call  # type: ignore[return-value]


def _digest(args: tuple, kwargs: dict) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    _feed(digest, args)
    _feed(digest, dict(sorted(kwargs.items())))
    return digest.digest()


def _feed(digest: Any, value: Any) -> None:
    """Feed `value`'s content to `digest` (pickle is no key: equal frames pickle differently)."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        kind, frame = type(value).__name__, value.to_frame() if isinstance(value, pd.Series) else value
        digest.update(repr((kind, list(frame.columns), [str(d) for d in frame.dtypes], frame.shape)).encode())
        for values in [frame.index.to_numpy(), *(column.to_numpy() for _, column in frame.items())]:
            _feed_array(digest, values)
    elif isinstance(value, dict):
        digest.update(b"dict %d" % len(value))
        for k, v in value.items():
            _feed(digest, k)
            _feed(digest, v)
    elif isinstance(value, (list, tuple)):
        digest.update(b"list %d" % len(value))
        for v in value:
            _feed(digest, v)
    elif value is None or isinstance(value, (str, int, float, bool, dt.date, dt.datetime, np.generic)):
        digest.update(repr((type(value).__name__, value)).encode())
    else:
        raise TypeError(f"no content fingerprint for {type(value).__name__}")


def _feed_array(digest: Any, values: np.ndarray) -> None:
    """A column's values: numbers and times as their bytes, anything else (text, Decimal,
    Timestamp) by repr - exact for those, and 5-10x cheaper than pandas' hashing of a short
    text column, which factorizes it first."""
    if values.dtype == object:
        digest.update(repr(values.tolist()).encode())
    else:
        digest.update(str(values.dtype).encode())
        digest.update(np.ascontiguousarray(values).tobytes())
