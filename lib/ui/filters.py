"""The dashboards' shared filter state: sidebar widgets <-> st.session_state <-> the URL."""

from __future__ import annotations

import functools

import streamlit as st

from lib.core.i18n import t
from lib.ui.cache import cached

# ---------------------------------------------------------------- dashboards: shared filters

_FILTERS_STATE = "dash_filters"  # the Filters in force (survives page switches)
_FILTERS_URL = "dash_filters_url"  # the URL params we last wrote (to spot a pasted link)


@cached  # two reads of the aggregates on every run of every dashboard, the same until a write
def _filter_options():
    from lib.dashboards import metrics

    return metrics.dimension_values(), metrics.data_range()


def sidebar_filters():
    """Sidebar filters of the dashboards -> lib.dashboards.filters.Filters.

    The choice lives in st.session_state (so it survives switching pages) and is mirrored in
    st.query_params (so a view can be shared as a link); a link with other filters wins.
    """
    from lib.dashboards import charts, filters as flt
    from lib.core import settings

    as_of = settings.as_of()
    default = flt.default(as_of)
    url = {k: st.query_params.get(k) for k in flt.URL_KEYS.values() if k in st.query_params}
    current = st.session_state.get(_FILTERS_STATE)
    if url and url != st.session_state.get(_FILTERS_URL):
        current = flt.Filters.from_params(url, current or default)
        _forget_filter_widgets()
    current = current or default

    options, span = _filter_options()
    low = min(span[0] if span else current.start, current.start)
    high = max(span[1] if span else as_of, as_of, current.end)

    sb = st.sidebar
    sb.subheader(t("dash.filters"))
    keys = {"period": "dash_f_period", **{dim: f"dash_f_{dim}" for dim in flt.DIMENSIONS}}
    if keys["period"] not in st.session_state:
        st.session_state[keys["period"]] = (current.start, current.end)
    period = sb.date_input(
        t("dash.filter.period"), min_value=low, max_value=high, key=keys["period"], help=t("dash.filter.period_help")
    )
    chosen = {}
    for dim in flt.DIMENSIONS:
        values = options.get(dim, [])
        selected = [v for v in getattr(current, dim) if v in values or not values]
        values = values + [v for v in selected if v not in values]
        if keys[dim] not in st.session_state:
            st.session_state[keys[dim]] = selected
        chosen[dim] = tuple(
            sb.multiselect(
                t(f"dash.filter.{dim}"),
                values,
                key=keys[dim],
                format_func=functools.partial(charts.dimension_label, dim),
                placeholder=t("dash.filter.all"),
            )
        )
    if sb.button(t("dash.filter.reset"), key="dash_f_reset"):
        st.session_state[_FILTERS_STATE] = default
        _forget_filter_widgets()
        _write_filter_params(default)
        st.rerun()
    start, end = (
        period if isinstance(period, (tuple, list)) and len(period) == 2 else (current.start, current.end)
    )  # mid-selection: keep the old range
    try:
        chosen_filters = flt.Filters(start, end, **chosen)
    except ValueError as exc:
        sb.error(str(exc))
        chosen_filters = current
    st.session_state[_FILTERS_STATE] = chosen_filters
    _write_filter_params(chosen_filters)
    return chosen_filters


def _forget_filter_widgets() -> None:
    for key in [k for k in st.session_state if str(k).startswith("dash_f_")]:
        del st.session_state[key]


def _write_filter_params(filters) -> None:
    from lib.dashboards import filters as flt

    wanted = filters.to_params()
    for key in flt.URL_KEYS.values():
        if key in wanted and st.query_params.get(key) != wanted[key]:
            st.query_params[key] = wanted[key]
        elif key not in wanted and key in st.query_params:
            del st.query_params[key]
    st.session_state[_FILTERS_URL] = wanted
