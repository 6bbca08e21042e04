"""Login, logout-free role routing, and anonymous access for every page (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from lib.security import auth, navigation
from lib import ui
from tests.app.helpers import as_user, login, new_app, open_page
from tests.conftest import ROOT

PAGE_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))


def sidebar_links(at) -> set[str]:
    return {link.proto.page for link in at.sidebar.get("page_link")}


def test_every_page_file_is_registered_and_every_entry_has_a_file():
    registered = {p.path for p in navigation.PAGES}
    assert registered == set(PAGE_FILES)


def test_every_page_starts_with_the_guard():
    for path in PAGE_FILES:
        code = (ROOT / path).read_text(encoding="utf-8")
        key = next(p.key for p in navigation.PAGES if p.path == path)
        assert f'ui.guard("{key}")' in code, path


@pytest.mark.parametrize("username", list(auth.DEMO_USERS))
def test_each_demo_user_sees_exactly_the_pages_its_roles_allow(warehouse_path, username):
    at = as_user(username)
    roles = set(auth.DEMO_USERS[username]["roles"])
    expected = {p.url_path for p in navigation.PAGES if p.roles & roles} | {""}  # "" = home
    assert sidebar_links(at) == expected


@pytest.mark.parametrize("username", list(auth.DEMO_USERS))
def test_each_demo_user_logs_in_through_the_form_and_is_audited(warehouse_path, username):
    at = login(username, auth.DEMO_USERS[username]["password"])
    assert not at.exception
    assert at.session_state["authentication_status"] is True
    assert at.title[0].value == "Customer 360"
    from lib.core import warehouse

    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'login' AND username = :u", u=username) == 1


def test_wrong_password_sees_no_data_and_is_audited(warehouse_path):
    at = login("manager", "not-the-password")
    assert not at.exception
    assert at.session_state["authentication_status"] is not True
    assert len(at.metric) == 0
    assert any("Wrong username or password" in e.value for e in at.error)
    from lib.core import warehouse

    assert (
        warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND username = 'manager'") == 1
    )


def test_five_failures_refuse_even_the_right_password_from_that_client_with_the_same_message(warehouse_path):
    # Until issue #13 this said "this account is locked", which told an attacker that the
    # account exists; the refusal now reads like any other failed login (with the wait).
    for _ in range(auth.MAX_FAILED_LOGINS):
        login("steward", "wrong")
    at = login("steward", auth.DEMO_USERS["steward"]["password"])
    assert at.session_state["authentication_status"] is not True
    assert [e.value for e in at.error] == [
        "Wrong username or password, or too many attempts — try again in 15 minute(s)."
    ]


@pytest.mark.parametrize("path", PAGE_FILES + ["app.py"])
def test_every_page_opened_anonymously_shows_only_the_login_form(warehouse_path, path):
    at = new_app()
    at.run()
    if path != "app.py":
        open_page(at, path)
    assert not at.exception
    assert [t.label for t in at.text_input][:2] == ["Username", "Password"]
    assert len(at.metric) == 0 and len(at.dataframe) == 0
    assert len(at.get("plotly_chart")) == 0


def test_the_login_page_loads_streamlits_plotly_chunk(warehouse_path):
    # A Streamlit upgrade that renames the chunk must fail here, not silently slow the first
    # page after login by ~1 s (lib/ui._load_chart_library).
    chunk = ui._plotly_chunk()
    assert chunk and (Path(st.__file__).parent / "static" / "static" / "js" / chunk).is_file()
    at = new_app()
    at.run()
    assert any(f"static/js/{chunk}" in h.proto.body for h in at.get("html"))


@pytest.mark.parametrize("page", navigation.PAGES, ids=lambda p: p.key)
@pytest.mark.parametrize("username", ["manager", "marketing", "steward", "admin"])
def test_a_page_outside_the_users_roles_is_refused(warehouse_path, page, username):
    at = as_user(username)
    open_page(at, page.path)
    assert not at.exception
    allowed = bool(page.roles & set(auth.DEMO_USERS[username]["roles"]))
    refused = any("do not allow" in e.value for e in at.error)
    assert refused != allowed


def test_disabled_user_session_stops_on_next_action(warehouse_path):
    from lib.security import auth
    from lib.admin import users as accounts

    at = as_user("marketing")
    at.run()
    assert not at.error and len(at.title) == 1  # the home page, signed in
    accounts.disable_user(auth.User("admin", roles=frozenset({"admin"})), "marketing")
    at.run()
    assert any("disabled" in e.value for e in at.error)
    assert len(at.title) == 0 and len(at.metric) == 0


def test_a_disable_by_another_process_stops_the_session_within_the_recheck_time(warehouse_path, monkeypatch):
    """Another process (an app replica, a CLI job) writes the users table directly: a signed-in
    session may reuse rows read SESSION_RECHECK_SECONDS ago, not older."""
    from lib.security import auth
    from lib.core import warehouse

    at = as_user("marketing")
    at.run()
    assert not at.error and len(at.title) == 1  # the home page, signed in
    with warehouse.transaction() as tx:
        tx.run("UPDATE app_users SET disabled = true WHERE username = 'marketing'")
    later = auth.time.monotonic() + auth.SESSION_RECHECK_SECONDS + 0.1
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    at.run()
    assert any("disabled" in e.value for e in at.error)
    assert len(at.title) == 0 and len(at.metric) == 0
