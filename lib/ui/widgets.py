"""The widget kit pages share: KPI cards, number formats, error messages, masked CSV downloads,
charts with their data, URL-mirrored inputs and paging."""

from __future__ import annotations

import math
from functools import lru_cache
import re
from typing import Any, Iterable, Literal

import streamlit as st

from lib.security import auth, exports
from lib.core import i18n, validation
from lib.core.i18n import t


EMPTY = i18n.EMPTY


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("NaT", "<NA>", "nan")


def kpi_row(cards: Iterable[dict[str, Any]]) -> None:
    """Metric cards: dicts with label, value, and optional delta, help, delta_color.

    A card may give a number instead of text: `{"label": ..., "value": 287875123.4, "money":
    True}` (or `"count": True`). It is shown compactly when the full figure would not fit the
    card ("¥2.88亿" / "¥287.9M", "1.2M"), and the exact figure is put first in the help
    tooltip, so no card ever cuts its value."""
    cards = list(cards)
    for col, card in zip(st.columns(len(cards)), cards):
        value, help_text = card["value"], card.get("help")
        if card.get("money") or card.get("count"):
            value, exact = kpi_value(card["value"], money=bool(card.get("money")), cards=len(cards))
            if exact != value:
                help_text = t("common.exact_value", value=exact) + (f"\n\n{help_text}" if help_text else "")
        col.metric(
            card["label"],
            value,
            delta=card.get("delta"),
            help=help_text,
            delta_color=card.get("delta_color", "normal"),
            border=True,
        )


# the widest value (characters) a metric card shows whole, by the number of cards in the row:
# the wide layout on a 1280 px screen leaves ~900 px beside the sidebar, and the 36 px metric
# font takes ~20 px a digit, so four cards hold ~9 characters ("¥287,875,…" was cut there)
_KPI_FITS = {1: 36, 2: 18, 3: 12, 4: 9, 5: 7, 6: 6}


def kpi_value(value: Any, money: bool = False, cards: int = 4) -> tuple[str, str]:
    """(the text a KPI card shows, the exact text): exact when it fits, else compact."""
    if _missing(value):
        return EMPTY, EMPTY
    exact = fmt_money(value) if money else fmt_int(value)
    if len(exact) <= _KPI_FITS.get(cards, 6):
        return exact, exact
    return fmt_compact(value, money=money), exact


def fmt_compact(value: Any, money: bool = False) -> str:
    """A large number in a few characters, in the current language's units: 287,875,123 is
    "2.88亿" in Chinese and "287.9M" in English (with ¥ for money); small numbers whole."""
    if _missing(value):
        return EMPTY
    v = float(value)
    sign, v = ("-" if v < 0 else ""), abs(v)
    unit = ""
    if i18n.language() == "zh":
        for size, name, digits in ((1e8, "亿", 2), (1e4, "万", 1)):
            if v >= size:
                v, unit, text = v / size, name, f"{v / size:,.{digits}f}"
                break
        else:
            text = f"{v:,.0f}"
    else:
        for size, name in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e4, "K")):
            if v >= size:
                v, unit = v / size, name
                break
        text = f"{v:,.1f}" if unit else f"{v:,.0f}"
    return f"{sign}{'¥' if money else ''}{text}{unit}"


def fmt_int(value: Any) -> str:
    return EMPTY if _missing(value) else f"{int(value):,}"


def fmt_times(values, fmt: str = "%Y-%m-%d %H:%M:%S", missing: str = EMPTY):
    """Timestamps of a column as text for a table, a missing one as `missing` (st.dataframe
    would print a null as the English word "None" in every language)."""
    import pandas as pd

    return pd.to_datetime(values).map(lambda v: missing if pd.isna(v) else v.strftime(fmt)).astype(object)


def fmt_money(value: Any) -> str:
    return EMPTY if _missing(value) else f"¥{float(value):,.0f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    return EMPTY if _missing(value) else f"{100 * float(value):.{digits}f}%"


def fmt_money_short(value: Any) -> str:
    """Large amounts for KPI cards: ¥672.9M in English, ¥6.73亿 / ¥8,383 in Chinese."""
    if _missing(value):
        return EMPTY
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


def plural(key: str, n: int, **params) -> str:
    """`t(key)` for a count, with `key.one` for exactly one ("1 result", "12 results")."""
    return i18n.plural(key, int(n), **params)


def role_names(roles: Any) -> str:
    """Roles (a list, or text such as "manager,marketing") by their names, comma-separated."""
    if roles is None or (isinstance(roles, float) and math.isnan(roles)):
        return EMPTY
    items = str(roles).replace(";", ",").split(",") if isinstance(roles, str) else [str(r) for r in roles]
    names = [t(f"role.{r.strip()}") if i18n.has(f"role.{r.strip()}") else r.strip() for r in items if str(r).strip()]
    return ", ".join(names) or EMPTY


def money_column(label: str | None = None, cents: bool = False, **kwargs) -> Any:
    """A st.dataframe column of yuan amounts: "¥192,719,946", with `cents` "¥5,408.07" (one
    order's amount); sorts as a number."""
    return st.column_config.NumberColumn(label, format="¥%,.2f" if cents else "¥%,.0f", **kwargs)


def person_name(name: Any) -> Any:
    """A customer's name as shown: an erased customer's placeholder in the page's language."""
    from lib.security import privacy

    return t("common.erased_name") if name == privacy.ERASED_NAME else name


def audit_json(*columns: str) -> dict[str, tuple[str, ...]]:
    """i18n.display_frame's `json` for an audit entry's JSON columns (before, after, detail):
    shown as "City: 杭州; Client: local", keys named as the fields they are."""
    return {column: ("stewards.field",) for column in columns}


def count_column(label: str | None = None, **kwargs) -> Any:
    """A st.dataframe column of counts with thousands separators (sorts as a number)."""
    return st.column_config.NumberColumn(label, format="%,d", **kwargs)


def tabs(labels: dict[str, str], key: str) -> dict[str, Any]:
    """Tabs that stay open across reruns: an action inside one (a button, a form) shows its
    result there instead of jumping back to the first tab. `labels` maps a stable code to its
    label in the current language; returns the tab containers by code. The open tab is also
    kept by code (under `key + "__open"`), so it survives a language switch."""
    by_label = {label: code for code, label in labels.items()}
    code_key = f"{key}__open"
    chosen = by_label.get(str(st.session_state.get(key)))
    if chosen is None:  # first run, a language switch, or open_tab()
        remembered = str(st.session_state.get(code_key))
        chosen = remembered if remembered in labels else next(iter(labels))
        st.session_state[key] = labels[chosen]
    st.session_state[code_key] = chosen
    containers = st.tabs(list(labels.values()), key=key, on_change="rerun")
    return dict(zip(labels, containers))


def open_tab(key: str, code: str) -> None:
    """Open tab `code` of `ui.tabs(..., key)` on the next run (e.g. after an action elsewhere)."""
    st.session_state[f"{key}__open"] = code
    st.session_state.pop(key, None)


def selected_row(event: Any) -> int | None:
    """The position of the row picked in `st.dataframe(..., on_select="rerun",
    selection_mode="single-row")`, or None."""
    rows = list(getattr(getattr(event, "selection", None), "rows", None) or [])
    if not rows and isinstance(event, dict):
        rows = list(event.get("selection", {}).get("rows", []))
    return int(rows[0]) if rows else None


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


def measure_picker(options: list[str], key: str, labels: str) -> str:
    """The measure a chart shows, picked above it; `labels` is the key prefix of the options'
    names. The first option when none is picked (a segmented control can be cleared)."""
    picked = st.segmented_control(
        t("dash.breakdown.metric"), options, default=options[0], key=key, format_func=lambda m: t(f"{labels}.{m}")
    )
    return picked or options[0]


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
    mid.caption(
        t(
            "dash.page.of.one" if total == 1 else "dash.page.of",
            page=f"{page:,}",
            pages=f"{pages:,}",
            total=f"{total:,}",
        )
    )
    return page


_ID = re.compile(r"[0-9]{1,18}")


def parse_id(text: str | None) -> int | None:
    """A record id typed or pasted (?id=...), or None: ASCII digits only, at most 18 of them
    (str.isdigit() also accepts '²' and '١', which int() then refuses or reads as another
    number; 18 digits stay inside BIGINT)."""
    value = (text or "").strip()
    return int(value) if _ID.fullmatch(value) else None


def country_select(container: Any, label: str, current: str | None, *, key: str, help: str | None = None) -> str:
    """A country picked by name in the page's language, stored as its ISO code. The current
    value comes first ("" shows as none); the rest go by name (by pinyin in Chinese), and typing
    filters them. A stored value that is no known code stays an option."""
    first = current or ""
    options = [first, *(c for c in _countries_by_name(i18n.language()) if c != first)]
    return container.selectbox(
        label, options, index=0, format_func=lambda code: i18n.country_name(code) or EMPTY, key=key, help=help
    )


@lru_cache(maxsize=len(i18n.LANGUAGES))
def _countries_by_name(lang: str) -> tuple[str, ...]:
    """Every country code, by name in `lang` (by pinyin in Chinese): sorted once per process,
    not on every rerun of a form (~11 ms)."""
    from pypinyin import lazy_pinyin

    def by_name(code: str):
        name = i18n.country_name(code, lang)
        return lazy_pinyin(name) if lang == "zh" else name

    return tuple(sorted(validation.country_codes(), key=by_name))
