"""The widget kit pages share: KPI cards, number formats, error messages, masked CSV downloads,
charts with their data, URL-mirrored inputs and paging."""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Literal

import streamlit as st

from lib.security import auth, exports
from lib.core import i18n
from lib.core.i18n import t


def kpi_row(cards: Iterable[dict[str, Any]]) -> None:
    """Metric cards: dicts with label, value, and optional delta, help, delta_color."""
    cards = list(cards)
    for col, card in zip(st.columns(len(cards)), cards):
        col.metric(
            card["label"],
            card["value"],
            delta=card.get("delta"),
            help=card.get("help"),
            delta_color=card.get("delta_color", "normal"),
            border=True,
        )


def fmt_int(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


def fmt_times(values, fmt: str = "%Y-%m-%d %H:%M:%S", missing: str = "–"):
    """Timestamps of a column as text for a table, a missing one as `missing` (st.dataframe
    would print a null as the English word "None" in every language)."""
    import pandas as pd

    return pd.to_datetime(values).map(lambda v: missing if pd.isna(v) else v.strftime(fmt)).astype(object)


def fmt_money(value: Any) -> str:
    return "–" if value is None else f"¥{float(value):,.0f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f}%"


def fmt_money_short(value: Any) -> str:
    """Large amounts for KPI cards: ¥672.9M in English, ¥6.73亿 / ¥8,383 in Chinese."""
    if value is None:
        return "–"
    v = float(value)
    if i18n.language() == "zh":
        if abs(v) >= 1e8:
            return f"¥{v / 1e8:,.2f}亿"
        if abs(v) >= 1e5:
            return f"¥{v / 1e4:,.1f}万"
        return f"¥{v:,.0f}"
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if abs(v) >= size:
            return f"¥{v / size:,.1f}{unit}"
    return f"¥{v:,.0f}"


# ---------------------------------------------------------------- dashboards: downloads, paging


def download(
    user: auth.User,
    frame,
    name: str,
    key: str,
    *,
    what: str | None = None,
    filters: dict | None = None,
    record: Any = None,
    label: str | None = None,
    mask: bool = True,
    type: Literal["primary", "secondary", "tertiary"] = "tertiary",
) -> None:
    """An audited CSV download of a frame, masked for the user's roles.

    The bytes are built only when the user clicks: `data` is a callable (Streamlit runs it on
    the click, in a server thread), and that callable - lib.security.exports.deliver - writes the one
    `download` audit row (who, what, rows, columns, filters). Drawing the button writes
    nothing and costs nothing; each click is one row. on_click="ignore": the download does not
    rerun the script, so the page keeps its state."""
    item = exports.Download(
        what or name,
        frame,
        name,
        filters=dict(filters or {}),
        mask=mask,
        record=None if record is None else str(record),
    )
    st.download_button(
        label or t("dash.download"),
        lambda: exports.deliver(user, item),
        file_name=item.file_name,
        mime=item.mime,
        key=key,
        on_click="ignore",
        icon=":material/download:",
        type=type,
    )


def download_csv(
    user: auth.User,
    frame,
    name: str,
    key: str,
    label: str | None = None,
    what: str | None = None,
    filters: dict | None = None,
) -> None:
    """The earlier name of `download` (kept for callers; same audited, lazy download)."""
    download(user, frame, name, key, what=what, filters=filters, label=label)


def chart(user: auth.User, figure, frame, name: str, key: str, filters: dict | None = None) -> None:
    """A plotly figure with an audited, masked CSV download of the data it was drawn from."""
    st.plotly_chart(figure, key=f"{key}_chart", config={"displaylogo": False})
    download(user, frame, name, key=f"{key}_csv", what=f"chart:{name}", filters=filters)


def open_customer_360(customer_id: int) -> None:
    """Switch to the Customer 360° page for this id (which then shows ?id= in its URL)."""
    st.session_state["dash_360_goto"] = str(int(customer_id))
    st.switch_page("pages/03_customer_360.py", query_params={"id": str(int(customer_id))})


def url_text_input(label: str, param: str, key: str, **kwargs) -> str:
    """A text input mirrored in the URL (?param=...): a shared or page-link URL fills it, and
    typing updates the URL. (Explicit rather than bind="query-params", which dropped values
    passed by st.page_link(query_params=...) on page switches.)"""
    goto = st.session_state.pop("dash_360_goto", None) if param == "id" else None
    if goto:
        st.query_params[param] = goto
    from_url = st.query_params.get(param, "")
    if from_url and st.session_state.get(f"{key}__url") != from_url:
        st.session_state[key] = from_url
    st.session_state[f"{key}__url"] = from_url
    value = st.text_input(label, key=key, **kwargs)
    if value.strip() and st.query_params.get(param) != value:
        st.query_params[param] = value
        st.session_state[f"{key}__url"] = value
    elif not value.strip() and param in st.query_params:
        del st.query_params[param]
    return value


def paginator(total: int, page_size: int, key: str) -> int:
    """Previous/next buttons with 'page x of y' for the page number kept in st.session_state[key].

    The buttons change the number in callbacks, i.e. before the next run starts, so the query
    that ran above the buttons already used the new page."""
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, int(st.session_state.get(key, 1))), pages)
    st.session_state[key] = page

    def move(step: int) -> None:
        st.session_state[key] = min(max(1, int(st.session_state.get(key, 1)) + step), pages)

    left, mid, right = st.columns([1, 3, 1])
    left.button(
        t("dash.page.prev"),
        key=f"{key}_prev",
        disabled=page <= 1,
        on_click=move,
        args=(-1,),
        icon=":material/chevron_left:",
    )
    right.button(
        t("dash.page.next"),
        key=f"{key}_next",
        disabled=page >= pages,
        on_click=move,
        args=(1,),
        icon=":material/chevron_right:",
    )
    mid.caption(t("dash.page.of", page=page, pages=pages, total=f"{total:,}"))
    return page


_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str | None) -> int | None:
    """A record id typed or pasted (?id=...), or None: ASCII digits only, at most 18 of them
    (str.isdigit() also accepts '²' and '١', which int() then refuses or reads as another
    number; 18 digits stay inside BIGINT)."""
    value = (text or "").strip()
    return int(value) if _ID.fullmatch(value) else None
