"""Shared Streamlit pieces: the page guard (login + role check), the sidebar, KPI cards.

This is the only lib/ module that imports streamlit. Every page starts with
`user = ui.guard("page_key")`: with no session it shows the login form and stops the page;
with a session whose roles do not allow the page it says so and stops; otherwise it draws the
sidebar (only the pages the roles allow) and returns the logged-in `auth.User`.
"""
from __future__ import annotations

from typing import Any, Iterable

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import LoginError

from lib import auth, config, i18n, navigation
from lib.i18n import t

COOKIE_NAME = "c360_session"
COOKIE_DAYS = 0.5  # a working day; re-login after that


# ---------------------------------------------------------------- language

def _init_language() -> None:
    if "lang" not in st.session_state:
        lang = st.query_params.get("lang", i18n.DEFAULT_LANGUAGE)
        st.session_state["lang"] = lang if lang in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE
    i18n.set_language(st.session_state["lang"])


def _language_switch() -> None:
    langs = list(i18n.LANGUAGES)
    choice = st.sidebar.selectbox(t("sidebar.language"), langs, key="lang",
                                  format_func=lambda code: i18n.LANGUAGES[code])
    i18n.set_language(choice)
    if st.query_params.get("lang") != choice:
        st.query_params["lang"] = choice


# ---------------------------------------------------------------- authentication

def _authenticator() -> stauth.Authenticate:
    # Built per run from the users table, so disabled or locked users drop out at once.
    return stauth.Authenticate(auth.credentials(), COOKIE_NAME, config.cookie_key(),
                               COOKIE_DAYS, auto_hash=False)


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
        authenticator.cookie_controller.set_cookie()
        st.rerun()
    st.session_state["authentication_status"] = None
    remaining = auth.lock_remaining(username)
    if remaining is not None:
        st.error(t("login.locked", minutes=int(remaining.total_seconds() // 60) + 1))
    else:
        st.error(t("login.failed"))


def _session_user(authenticator: stauth.Authenticate) -> auth.User | None:
    """The logged-in user re-read from the users table, or None."""
    if not st.session_state.get("authentication_status"):
        token = authenticator.cookie_controller.get_cookie()
        if token:
            try:
                authenticator.authentication_controller.login(token=token)
            except LoginError:  # cookie of a user who was disabled or locked since
                authenticator.cookie_controller.delete_cookie()
    if not st.session_state.get("authentication_status"):
        return None
    user = auth.load_user(st.session_state.get("username") or "")
    if user is None:  # disabled (or deleted) since the session started: end it now
        authenticator.logout(location="unrendered")
        st.error(t("access.disabled"))
        st.stop()
    auth.touch(user.username)
    return user


def guard(page_key: str | None = None) -> auth.User:
    """Log the user in or stop; stop if the page's roles exclude them; draw the sidebar."""
    st.set_page_config(page_title=t("app.title"), page_icon=":material/groups:", layout="wide")
    _init_language()
    authenticator = _authenticator()
    user = _session_user(authenticator)
    if user is None:
        _language_switch()
        _login_form(authenticator)
        st.stop()
    _sidebar(user, authenticator)
    if page_key is not None and not (navigation.page(page_key).roles & user.roles):
        st.error(t("access.denied"))
        st.stop()
    return user


def _sidebar(user: auth.User, authenticator: stauth.Authenticate) -> None:
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
    authenticator.logout(t("logout"), "sidebar", key="logout")


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


def show_error(exc: Exception) -> None:
    """Render a lib error (validation, permission, conflict) as a message, not a traceback."""
    st.error(t("common.error", message=str(exc)))
