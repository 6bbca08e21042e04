"""Sign-in for every page: the guard, the login form, the login cookie, the sidebar.

Every page starts with `user = ui.guard("page_key")`: with no session it shows the login form
and stops the page; with a session whose roles do not allow the page it says so and stops;
otherwise it draws the sidebar (only the pages the roles allow) and returns the logged-in
`auth.User`.

Sessions are server-side (lib/security/sessions.py): a login (auth.authenticate: per-client throttling,
bcrypt) starts a session row; this browser tab keeps its token in st.session_state and the
browser keeps it in the httpOnly login cookie, written by the route in lib/ui/routes.py. Every
run re-reads the account (disabled? which roles?) and checks the session (revoked, idle,
expired?), so a logout anywhere, a disable, a role change or a password reset ends the
session on its next click, and a copied cookie signs nobody in after that.
"""

from __future__ import annotations

import functools
import gc
import threading
from pathlib import Path

import streamlit as st

from lib.security import auth, navigation, sessions
from lib.core import config, i18n
from lib.core.i18n import t
from lib.ui import routes

COOKIE_NAME = sessions.COOKIE_NAME
TOKEN = "c360_session_token"  # this tab's session token (server-side session state)
COOKIE_OP = "c360_cookie_op"  # [nonce, runs left] of a cookie write/clear in flight
COOKIE_OP_TRIES = 20
COOKIE_TRIED = "c360_cookie_tried"  # the login cookie this tab has already tried
ENDED = "c360_session_ended"  # say why the login form is back
# Not "logout": streamlit-authenticator (used by earlier versions) kept its own flag under that
# key, and a button may not share a key with a value set through session state.
LOGOUT_BUTTON = "sidebar_logout"
SIGNED_IN_KEYS = ("authentication_status", "username", "name", "roles", TOKEN)


# ---------------------------------------------------------------- once per process

_prepared = False
_prepare_lock = threading.Lock()


def prepare_process() -> None:
    """Freeze the long-lived objects out of garbage collection, once per process (the guard's
    first run; bench/dashboards.py calls it too). By then the process holds ~1M long-lived
    objects (Streamlit, pandas, plotly, SQLAlchemy, DuckDB and lib/), and each full collection
    walked all of them: ~30 ms, landing in the middle of some page's queries (it made the
    Overview's cold queries miss their 200 ms target; docs/benchmarks.md). Frozen, they are left
    out of collections; what pages allocate is collected as before. Importing lib.ui does not
    do this: a module import should not change how the whole process collects garbage."""
    global _prepared
    if _prepared:
        return
    with _prepare_lock:
        if not _prepared:
            gc.freeze()
            _prepared = True


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
    st.sidebar.selectbox(
        t("sidebar.language"),
        langs,
        key="lang_switch",
        on_change=_remember_language,
        format_func=lambda code: i18n.LANGUAGES[code],
    )
    if st.query_params.get("lang") != st.session_state["lang"]:
        st.query_params["lang"] = st.session_state["lang"]


def _remember_language() -> None:
    # on_change runs before the script: _init_language then sets the new language for the whole run
    st.session_state["lang"] = st.session_state["lang_switch"]


# ---------------------------------------------------------------- authentication


def client() -> str:
    """Who is connecting, for login throttling and the audit log: the browser's address, or
    with `C360_CLIENT_IP_HEADER` (set it only behind a proxy that overwrites that header, e.g.
    X-Forwarded-For) its first address. Loopback connections have none: "local"."""
    header = config.setting("client_ip_header")
    if header:
        value = _text(st.context.headers.get(header))
        if value:
            return value.split(",")[0].strip()[:100] or "local"
    return _text(st.context.ip_address) or "local"


def _text(value) -> str | None:
    # AppTest has no request: st.context's values are mocks there, not text
    return value if isinstance(value, str) else None


def _cookie() -> str | None:
    """The login cookie sent with the request that opened this tab's session, or None."""
    return _text(st.context.cookies.get(COOKIE_NAME))


def _sign_in(user: auth.User, token: str) -> None:
    st.session_state.update(
        {
            "authentication_status": True,
            "username": user.username,
            "name": user.name,
            "roles": sorted(user.roles),
            TOKEN: token,
        }
    )
    _cookie_start(sessions.cookie_value(token))


def _forget_login() -> None:
    for key in SIGNED_IN_KEYS:
        st.session_state.pop(key, None)
    st.session_state["authentication_status"] = None


def _cookie_start(value: str) -> None:
    """Write (value) or clear ("") the httpOnly login cookie: offer it to the route and draw
    the browser's request on the next runs (_cookie_draw). Without the route, nothing."""
    if routes.MOUNTED:
        st.session_state[COOKIE_OP] = [routes.offer(value), COOKIE_OP_TRIES]


def _cookie_draw() -> None:
    """Draw the request that fetches an offered cookie, on every run until the route has
    served it (a run that stopped drawing it earlier could unmount it before it ran), at most
    COOKIE_OP_TRIES runs. An invisible element; only on the runs right after a login/logout."""
    op = st.session_state.get(COOKIE_OP)
    if not op:
        return
    nonce, runs_left = op
    if routes.taken(nonce) or not routes.pending(nonce) or runs_left <= 0:
        del st.session_state[COOKIE_OP]
        return
    st.session_state[COOKIE_OP] = [nonce, runs_left - 1]
    st.html(
        "<script>fetch(new URL('." + routes.PATH_SET + "', document.baseURI), {method: 'POST', "
        f"body: '{nonce}', credentials: 'same-origin', cache: 'no-store'}})</script>",
        unsafe_allow_javascript=True,
    )


def _login_form(client_id: str) -> None:
    st.title(t("app.title"))
    st.caption(t("app.tagline"))
    if st.session_state.pop(ENDED, False):
        st.info(t("session.ended"))
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
    # One message for an unknown user, a wrong password, a disabled account and a throttled
    # client: it must not tell which usernames exist (lib/security/auth.py, login and throttling).
    result = auth.authenticate(username, password, client_id)
    if result.user is not None and result.token is not None:
        _sign_in(result.user, result.token)
        st.rerun()
    st.error(t("login.failed", minutes=max(1, result.retry_minutes)))


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
        st.html(
            f'<script>import(new URL("./static/js/{chunk}", document.baseURI).href)</script>',
            unsafe_allow_javascript=True,
        )


@functools.cache
def _plotly_chunk() -> str | None:
    scripts = Path(st.__file__).parent / "static" / "static" / "js"
    return next((p.name for p in sorted(scripts.glob("PlotlyChart.*.js"))), None)


def _session_user(rows: list[dict], client_id: str) -> auth.User | None:
    """The signed-in user, re-read from the users table, or None (then the login form)."""
    if not st.session_state.get("authentication_status"):
        cookie = _cookie()
        if not cookie or st.session_state.get(COOKIE_TRIED) == cookie:
            return None
        st.session_state[COOKIE_TRIED] = cookie  # one try per cookie and tab
        # a new page load: sign in from the login cookie if its session is still valid
        session = sessions.resume(sessions.token_from_cookie(cookie), client_id)
        if session is None:
            _cookie_start("")  # a dead cookie: clear it
            return None
        user = auth.load_user(session.username, rows)
        if user is None:
            return None
        st.session_state.update(
            {
                "authentication_status": True,
                "username": user.username,
                "name": user.name,
                "roles": sorted(user.roles),
                TOKEN: sessions.token_from_cookie(cookie),
            }
        )
    user = auth.load_user(st.session_state.get("username") or "", rows)
    if user is None:  # disabled (or deleted) since the session started: end it now
        _forget_login()
        _cookie_start("")
        st.error(t("access.disabled"))
        _cookie_draw()
        st.stop()
    session = sessions.check(st.session_state.get(TOKEN))
    if session is None or session.username != user.username:
        # logged out elsewhere, idle, expired, or ended by an admin (roles, password reset)
        _forget_login()
        _cookie_start("")
        st.session_state[ENDED] = True
        return None
    row = next((r for r in rows if r["username"] == user.username), {})
    auth.touch(user.username, row.get("last_activity"))
    return user


def _log_out(client_id: str) -> None:
    """End every session of the user (this tab, other browsers, copied cookies), audited,
    and clear this browser's cookie."""
    username = st.session_state.get("username") or ""
    roles = frozenset(st.session_state.get("roles") or ())
    if st.session_state.get(TOKEN):
        sessions.log_out(auth.User(username, roles=roles), client_id)
    _forget_login()
    st.session_state[COOKIE_TRIED] = _cookie()  # not tried again in this tab
    _cookie_start("")


def guard(page_key: str | None = None) -> auth.User:
    """Log the user in or stop; stop if the page's roles exclude them; draw the sidebar."""
    prepare_process()
    _init_language()
    st.set_page_config(page_title=page_title(page_key), page_icon=":material/groups:", layout="wide")
    try:
        # Secrets are checked before anything else runs: outside demo mode a missing, demo,
        # short, predictable or malformed key stops the app here with a message, not a traceback.
        config.check_keys()
        # one read of the users table per run; a signed-in session may reuse a recent one
        signed_in = bool(st.session_state.get("authentication_status"))
        rows = auth.user_rows(max_age=auth.SESSION_RECHECK_SECONDS if signed_in else 0)
    except config.ConfigError as exc:
        st.error(t("admin.config_refused", message=str(exc)))
        st.stop()
    client_id = client()
    st.session_state.setdefault("authentication_status", None)
    if st.session_state.get(LOGOUT_BUTTON) and signed_in:
        _log_out(client_id)
    user = _session_user(rows, client_id)
    _cookie_draw()
    if user is None:
        _language_switch()
        _login_form(client_id)
        _load_chart_library()
        st.stop()
    _sidebar(user)
    if page_key is not None and not (navigation.page(page_key).roles & user.roles):
        st.error(t("access.denied"))
        st.stop()
    return user


def page_title(page_key: str | None) -> str:
    """The browser tab's title in the current language: "Overview · Customer 360"."""
    if page_key is None:
        return t("app.title")
    return f"{t(f'nav.{page_key}')} · {t('app.title')}"


@functools.cache
def _page(path: str) -> st.Page:
    """The page of a file, made once per process. Given a path, st.page_link looks the file up
    on disk on every run (several filesystem calls per link, each giving up the GIL), and under
    load every session's sidebar queued behind the others' (bench/load.py, py-spy)."""
    return st.Page(path)


def _sidebar(user: auth.User) -> None:
    sb = st.sidebar
    sb.markdown(f"### {t('app.title')}")
    sb.page_link(navigation.HOME, label=t("nav.home"), icon=":material/home:")
    section = None
    for p in navigation.allowed(user.roles):
        if p.section != section:
            section = p.section
            sb.caption(t(f"nav.section.{section}"))
        sb.page_link(_page(p.path), label=t(f"nav.{p.key}"), icon=p.icon)
    sb.divider()
    _language_switch()
    roles = ", ".join(t(f"role.{r}") for r in sorted(user.roles))
    sb.caption(t("sidebar.signed_in_as", name=user.name or user.username, roles=roles))
    sb.button(t("logout"), key=LOGOUT_BUTTON)  # acted on at the start of the next run (guard)
