"""Shared Streamlit pieces: the page guard (login + role check), the sidebar, KPI cards.

This is the only lib/ module that imports streamlit. Every page starts with
`user = ui.guard("page_key")`: with no session it shows the login form and stops the page;
with a session whose roles do not allow the page it says so and stops; otherwise it draws the
sidebar (only the pages the roles allow) and returns the logged-in `auth.User`.
"""
from __future__ import annotations

import functools
import gc
from pathlib import Path
from typing import Any, Iterable

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import LoginError

from lib.security import auth, navigation
from lib.core import config, i18n
from lib.core.i18n import t

# Every page imports this module first. By now the process holds ~1M long-lived objects
# (Streamlit, pandas, plotly, SQLAlchemy, DuckDB and lib/), and each full garbage collection
# walked all of them: ~30 ms, landing in the middle of some page's queries (it made the
# Overview's cold queries miss their 200 ms target; docs/benchmarks.md). Frozen, they are left
# out of collections; what pages allocate is collected as before.
gc.freeze()

COOKIE_NAME = "c360_session"
COOKIE_DAYS = 0.5  # a working day; re-login after that


# ---------------------------------------------------------------- language

def _init_language() -> None:
    if "lang" not in st.session_state:
        lang = st.query_params.get("lang", i18n.DEFAULT_LANGUAGE)
        st.session_state["lang"] = lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    i18n.set_language(st.session_state["lang"])


def _language_switch() -> None:
    # The choice is kept under "lang" (a plain session key) and handed to the widget on every
    # run: a widget's id includes its page, so the widget's own state would start afresh, in
    # English, on every page switch.
    langs = list(i18n.LANGUAGES)
    st.session_state["lang_switch"] = st.session_state["lang"]
    st.sidebar.selectbox(t("sidebar.language"), langs, key="lang_switch", on_change=_remember_language,
                         format_func=lambda code: i18n.LANGUAGES[code])
    if st.query_params.get("lang") != st.session_state["lang"]:
        st.query_params["lang"] = st.session_state["lang"]


def _remember_language() -> None:
    # on_change runs before the script: _init_language then sets the new language for the whole run
    st.session_state["lang"] = st.session_state["lang_switch"]


# ---------------------------------------------------------------- authentication

SET_COOKIE = "c360_set_login_cookie"
# Not "logout": streamlit-authenticator keeps its own flag under that session-state key, and a
# button may not share a key with a value set through session state.
LOGOUT_BUTTON = "sidebar_logout"
COOKIE_OPS = "c360_login_cookie_ops"   # op -> runs left to keep its component drawn (_cookie_op)
COOKIE_OP_TRIES = 20


def _authenticator(rows: list[dict]) -> stauth.Authenticate:
    # Built per run from the users table, so disabled or locked users drop out at once.
    # Its constructor draws a component that reads every cookie of the browser: an iframe that
    # loads its own 465 KB script and then reruns the page with the answer, which cost a page
    # opened from a link or a reload ~0.3 s. Nothing uses that answer (streamlit-authenticator
    # reads the login cookie from the request, st.context.cookies), so it is drawn into a slot
    # that is emptied at once. Writing and deleting the cookie draw their own components.
    slot = st.empty()
    with slot.container():
        authenticator = stauth.Authenticate(auth.credentials(rows), COOKIE_NAME, config.cookie_key(),
                                            COOKIE_DAYS, auto_hash=False)
    slot.empty()
    return authenticator


def _login_form(authenticator: stauth.Authenticate) -> None:
    st.title(t("app.title"))
    st.caption(t("app.tagline"))
    with st.form("login"):
        st.subheader(t("login.title"))
        username = st.text_input(t("login.username"), autocomplete="username")
        password = st.text_input(t("login.password"), type="password", autocomplete="current-password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if config.demo_mode():
        st.caption(t("login.demo_hint"))
    if not submitted:
        return
    username = username.strip()
    if not username or not password:
        st.error(t("login.empty"))
        return
    remaining = auth.lock_remaining(username)
    if remaining is not None:
        auth.record_login(username, success=False)
        st.error(t("login.locked", minutes=int(remaining.total_seconds() // 60) + 1))
        return
    ok = authenticator.authentication_controller.login(username, password)
    auth.record_login(username, success=bool(ok))
    if ok:
        # The browser cookie is written by a component; a rerun right after it can unmount it
        # before it runs (the faster the next run, the likelier), so the next run writes it.
        st.session_state[SET_COOKIE] = True
        st.rerun()
    st.session_state["authentication_status"] = None
    remaining = auth.lock_remaining(username)
    if remaining is not None:
        st.error(t("login.locked", minutes=int(remaining.total_seconds() // 60) + 1))
    else:
        st.error(t("login.failed"))


def _load_chart_library() -> None:
    """Start loading plotly.js under the login form, while the user types their password.

    Streamlit loads its plotly.js chunk (4.6 MB) when a browser tab draws its first chart:
    ~1.3 s in a 2-core browser, which made the first page after login take 2.0-2.4 s. Imported
    here, the chunk is evaluated by the time the first chart needs it (login to landing page:
    1.0-1.1 s; a <link rel=modulepreload> only fetched and compiled it, and gained nothing).
    It is Streamlit's own file, found by name; with another Streamlit build that names it
    differently nothing is preloaded and the first chart loads it as before."""
    chunk = _plotly_chunk()
    if chunk:
        st.html(f'<script>import(new URL("./static/js/{chunk}", document.baseURI).href)</script>',
                unsafe_allow_javascript=True)


@functools.cache
def _plotly_chunk() -> str | None:
    scripts = Path(st.__file__).parent / "static" / "static" / "js"
    return next((p.name for p in sorted(scripts.glob("PlotlyChart.*.js"))), None)


def _session_user(authenticator: stauth.Authenticate | None, rows: list[dict]) -> auth.User | None:
    """The logged-in user re-read from the users table, or None. `authenticator` is None on
    the runs of a signed-in session that need no cookie work (see guard)."""
    if not st.session_state.get("authentication_status"):
        token = authenticator.cookie_controller.get_cookie()
        if token:
            try:
                authenticator.authentication_controller.login(token=token)
            except LoginError:  # cookie of a user who was disabled or locked since
                _cookie_op(authenticator, "delete")
    if not st.session_state.get("authentication_status"):
        return None
    user = auth.load_user(st.session_state.get("username") or "", rows)
    if user is None:  # disabled (or deleted) since the session started: end it now
        _end_session(authenticator or _authenticator(rows))
        st.error(t("access.disabled"))
        st.stop()
    if st.session_state.pop(SET_COOKIE, False) or "set" in st.session_state.get(COOKIE_OPS, {}):
        _cookie_op(authenticator, "set")
    row = next((r for r in rows if r["username"] == user.username), {})
    auth.touch(user.username, row.get("last_activity"))
    return user


def _cookie_op(authenticator: stauth.Authenticate, op: str) -> None:
    """Write ("set", after a login) or delete ("delete", at a logout) the login cookie, and keep
    the component that does it drawn on the following runs until the browser reports it done
    (the component's value under its key, "set" or "delete", turns true): a run that stopped
    drawing it earlier would unmount it before it ran, and a reload would then find no cookie,
    or the old one. Gives up after COOKIE_OP_TRIES runs (the session itself works either way)."""
    pending = st.session_state.setdefault(COOKIE_OPS, {})
    pending.pop("set" if op == "delete" else "delete", None)      # the newer intent wins
    if st.session_state.get(op):
        pending.pop(op, None)
        return
    runs_left = pending.get(op, COOKIE_OP_TRIES) - 1
    if op == "set":
        authenticator.cookie_controller.set_cookie()
    else:
        authenticator.cookie_controller.delete_cookie()
    if runs_left > 0:
        pending[op] = runs_left
    else:
        pending.pop(op, None)


def _end_session(authenticator: stauth.Authenticate) -> None:
    """Log out: end the session and delete the login cookie."""
    authenticator.authentication_controller.logout()
    _cookie_op(authenticator, "delete")


def guard(page_key: str | None = None) -> auth.User:
    """Log the user in or stop; stop if the page's roles exclude them; draw the sidebar."""
    st.set_page_config(page_title=t("app.title"), page_icon=":material/groups:", layout="wide")
    _init_language()
    try:
        # Secrets are checked before anything else runs: outside demo mode a missing key or
        # the demo cookie key stops the app here with a message, not a traceback.
        config.field_keys()
        config.hash_key()
        config.cookie_key()
        # one read of the users table per run; a signed-in session may reuse a recent one
        signed_in = bool(st.session_state.get("authentication_status"))
        rows = auth.user_rows(max_age=auth.SESSION_RECHECK_SECONDS if signed_in else 0)
    except config.ConfigError as exc:
        st.error(t("admin.config_refused", message=str(exc)))
        st.stop()
    # The login cookie lives in the browser. streamlit-authenticator reads it from the request,
    # but only its cookie component (an iframe that loads its own scripts wherever it is drawn)
    # writes or deletes it; drawn on every page, it reloaded on every page switch. So the
    # authenticator is built only on the runs that need it: no session yet (sign in by cookie or
    # by the form), the runs after a login until the cookie is written, a logout until it is
    # deleted; and for an account disabled meanwhile. Only writing and deleting draw an iframe.
    logging_out = bool(st.session_state.get(LOGOUT_BUTTON))
    cookie_work = (not signed_in or logging_out or st.session_state.get(SET_COOKIE)
                   or st.session_state.get(COOKIE_OPS))
    authenticator = _authenticator(rows) if cookie_work else None
    if logging_out and signed_in:
        _end_session(authenticator)
    elif not signed_in and "delete" in st.session_state.get(COOKIE_OPS, {}):
        _cookie_op(authenticator, "delete")             # until the browser has deleted it
    user = _session_user(authenticator, rows)
    if user is None:
        _language_switch()
        _login_form(authenticator)
        _load_chart_library()
        st.stop()
    _sidebar(user)
    if page_key is not None and not (navigation.page(page_key).roles & user.roles):
        st.error(t("access.denied"))
        st.stop()
    return user


def _sidebar(user: auth.User) -> None:
    sb = st.sidebar
    sb.markdown(f"### {t('app.title')}")
    sb.page_link(navigation.HOME, label=t("nav.home"), icon=":material/home:")
    section = None
    for p in navigation.allowed(user.roles):
        if p.section != section:
            section = p.section
            sb.caption(t(f"nav.section.{section}"))
        sb.page_link(p.path, label=t(f"nav.{p.key}"), icon=p.icon)
    sb.divider()
    _language_switch()
    roles = ", ".join(t(f"role.{r}") for r in sorted(user.roles))
    sb.caption(t("sidebar.signed_in_as", name=user.name or user.username, roles=roles))
    sb.button(t("logout"), key=LOGOUT_BUTTON)     # acted on at the start of the next run (guard)


# ---------------------------------------------------------------- widgets

def kpi_row(cards: Iterable[dict[str, Any]]) -> None:
    """Metric cards: dicts with label, value, and optional delta, help, delta_color."""
    cards = list(cards)
    for col, card in zip(st.columns(len(cards)), cards):
        col.metric(card["label"], card["value"], delta=card.get("delta"), help=card.get("help"),
                   delta_color=card.get("delta_color", "normal"), border=True)


def fmt_int(value: Any) -> str:
    return "–" if value is None else f"{int(value):,}"


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


def show_error(exc: Exception) -> None:
    """Render a lib error (validation, permission, conflict) as a message, not a traceback."""
    st.error(t("common.error", message=str(exc)))


# ---------------------------------------------------------------- dashboards: shared filters

_FILTERS_STATE = "dash_filters"        # the Filters in force (survives page switches)
_FILTERS_URL = "dash_filters_url"      # the URL params we last wrote (to spot a pasted link)


def sidebar_filters():
    """Sidebar filters of the dashboards -> lib.dashboards.filters.Filters.

    The choice lives in st.session_state (so it survives switching pages) and is mirrored in
    st.query_params (so a view can be shared as a link); a link with other filters wins.
    """
    from lib.dashboards import charts, filters as flt, metrics
    from lib.core import settings

    as_of = settings.as_of()
    default = flt.default(as_of)
    url = {k: st.query_params.get(k) for k in flt.URL_KEYS.values() if k in st.query_params}
    current = st.session_state.get(_FILTERS_STATE)
    if url and url != st.session_state.get(_FILTERS_URL):
        current = flt.Filters.from_params(url, current or default)
        _forget_filter_widgets()
    current = current or default

    options = metrics.dimension_values()
    span = metrics.data_range()
    low = min(span[0] if span else current.start, current.start)
    high = max(span[1] if span else as_of, as_of, current.end)

    sb = st.sidebar
    sb.subheader(t("dash.filters"))
    keys = {"period": "dash_f_period", **{dim: f"dash_f_{dim}" for dim in flt.DIMENSIONS}}
    if keys["period"] not in st.session_state:
        st.session_state[keys["period"]] = (current.start, current.end)
    period = sb.date_input(t("dash.filter.period"), min_value=low, max_value=high,
                           key=keys["period"], help=t("dash.filter.period_help"))
    chosen = {}
    for dim in flt.DIMENSIONS:
        values = options.get(dim, [])
        selected = [v for v in getattr(current, dim) if v in values or not values]
        values = values + [v for v in selected if v not in values]
        if keys[dim] not in st.session_state:
            st.session_state[keys[dim]] = selected
        chosen[dim] = tuple(sb.multiselect(t(f"dash.filter.{dim}"), values, key=keys[dim],
                                           format_func=functools.partial(charts.dimension_label, dim),
                                           placeholder=t("dash.filter.all")))
    if sb.button(t("dash.filter.reset"), key="dash_f_reset"):
        st.session_state[_FILTERS_STATE] = default
        _forget_filter_widgets()
        _write_filter_params(default)
        st.rerun()
    start, end = (period if isinstance(period, (tuple, list)) and len(period) == 2
                  else (current.start, current.end))   # mid-selection: keep the old range
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


# ---------------------------------------------------------------- dashboards: downloads, paging

def download_csv(user: auth.User, frame, name: str, key: str, label: str | None = None) -> None:
    """A CSV download of a (small) frame, masked for the user's roles. on_click="ignore": the
    download does not rerun the script, so the page keeps its state."""
    from lib.security import privacy
    data = privacy.mask_frame(user, frame).to_csv(index=False).encode("utf-8-sig")
    st.download_button(label or t("dash.download"), data, file_name=f"{name}.csv",
                       mime="text/csv", key=key, on_click="ignore", icon=":material/download:",
                       type="tertiary")


def chart(user: auth.User, figure, frame, name: str, key: str) -> None:
    """A plotly figure with a masked CSV download of the data it was drawn from."""
    st.plotly_chart(figure, key=f"{key}_chart", config={"displaylogo": False})
    download_csv(user, frame, name, key=f"{key}_csv")


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
    import math
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, int(st.session_state.get(key, 1))), pages)
    st.session_state[key] = page

    def move(step: int) -> None:
        st.session_state[key] = min(max(1, int(st.session_state.get(key, 1)) + step), pages)

    left, mid, right = st.columns([1, 3, 1])
    left.button(t("dash.page.prev"), key=f"{key}_prev", disabled=page <= 1, on_click=move, args=(-1,),
                icon=":material/chevron_left:")
    right.button(t("dash.page.next"), key=f"{key}_next", disabled=page >= pages, on_click=move,
                 args=(1,), icon=":material/chevron_right:")
    mid.caption(t("dash.page.of", page=page, pages=pages, total=f"{total:,}"))
    return page
