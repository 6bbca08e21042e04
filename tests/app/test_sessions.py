"""The guard and server-side sessions in AppTest: cookie logins and logouts (audited), revoked
and tampered cookies, sessions ended elsewhere, the one login-failure message, odd ?id= values.

AppTest has no HTTP request, so the login cookie is handed to the guard by replacing
`lib.ui.session._cookie` (what it reads from st.context.cookies in a browser); the real
browser does the same end to end in tests/browser/test_sessions.py.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from lib.security import auth, sessions
from lib.core import warehouse
from lib.admin import users as accounts
from lib.ui import session as ui_session
from tests.app.helpers import as_user, login, new_app, open_page
from tests.conftest import ROOT

ADMIN = auth.User("admin", roles=frozenset({"admin"}))
FAILED = "Wrong username or password, or too many attempts — try again in 1 minute(s)."


def actions() -> list[str]:
    return warehouse.read("SELECT action FROM audit_log WHERE action <> 'user.seed_demo' ORDER BY audit_id")[
        "action"
    ].tolist()


def with_cookie(monkeypatch, cookie: str | None):
    """A new browser tab (AppTest) whose request carries this login cookie."""
    monkeypatch.setattr(ui_session, "_cookie", lambda: cookie)
    at = new_app()
    at.run()
    assert not at.exception, at.exception
    return at


def shows_login_form(at) -> bool:
    return [t.label for t in at.text_input][:2] == ["Username", "Password"] and len(at.metric) == 0


def signed_in(at) -> bool:
    return at.session_state["authentication_status"] is True and not shows_login_form(at)


def test_a_valid_cookie_signs_a_new_tab_in_and_is_audited(warehouse_path, monkeypatch):
    token = sessions.start("manager", "apptest")
    at = with_cookie(monkeypatch, sessions.cookie_value(token))
    assert signed_in(at)
    assert actions() == ["login.cookie"]


def test_logout_ends_the_session_and_the_same_cookie_no_longer_signs_in(warehouse_path, monkeypatch):
    token = sessions.start("manager", "apptest")
    cookie = sessions.cookie_value(token)
    at = with_cookie(monkeypatch, cookie)
    at.button(key=ui_session.LOGOUT_BUTTON).click()
    at.run()
    assert not at.exception and shows_login_form(at)
    assert actions() == ["login.cookie", "session.revoke", "logout"]
    replay = with_cookie(monkeypatch, cookie)  # a copy of the cookie, later
    assert shows_login_form(replay)
    assert actions()[-1] == "login.cookie_refused"


def test_a_password_reset_ends_the_users_open_tab_and_its_cookie(warehouse_path, monkeypatch):
    token = sessions.start("manager", "apptest")
    at = with_cookie(monkeypatch, sessions.cookie_value(token))
    accounts.reset_password(ADMIN, "manager", "brand-new-password")
    at.run()  # the manager's next click
    assert not at.exception and shows_login_form(at)
    assert any("session has ended" in i.value for i in at.info)
    assert shows_login_form(with_cookie(monkeypatch, sessions.cookie_value(token)))


def test_a_role_change_ends_the_session_opened_with_the_old_roles(warehouse_path):
    at = as_user("marketing")
    accounts.set_roles(ADMIN, "marketing", ["manager"])
    at.run()
    assert not at.exception and shows_login_form(at)


def test_a_logout_in_another_browser_ends_this_one_too(warehouse_path):
    at = as_user("steward")
    sessions.log_out(auth.User("steward", roles=frozenset({"steward"})), "another-browser")
    at.run()
    assert not at.exception and shows_login_form(at)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cookie",
    [
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"username": "admin", "sid": "x" * 43, "exp": 4102444800})
        + ".",
        "garbage",
        "%%%.%%%.%%%",
    ],
    ids=["alg-none", "garbage", "percent"],
)
def test_a_tampered_cookie_shows_the_login_form_without_an_exception(warehouse_path, monkeypatch, cookie):
    at = with_cookie(monkeypatch, cookie)
    assert shows_login_form(at) and at.session_state["authentication_status"] is not True
    assert actions() == ["login.cookie_refused"]
    at.run()  # tried once per tab, not every run
    assert actions() == ["login.cookie_refused"]


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(warehouse_path):
    unknown = login("nobody", "manager-demo")
    wrong = login("manager", "not-the-password")
    assert [e.value for e in unknown.error] == [e.value for e in wrong.error] == [FAILED]


def test_a_form_login_starts_a_server_side_session(warehouse_path):
    at = login("manager", "manager-demo")
    token = at.session_state[ui_session.TOKEN]
    assert sessions.check(token).username == "manager"
    assert warehouse.scalar("SELECT count(*) FROM app_sessions WHERE username = 'manager'") == 1


@pytest.mark.parametrize("raw", ["²", "١٢", "1e3", "-1", "9" * 30, "1 OR 1=1"])
def test_an_odd_id_in_the_url_of_the_360_page_is_no_traceback(warehouse_path, raw):
    at = as_user("manager")
    at.query_params["id"] = raw
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception
    assert any("customer" in i.value.lower() for i in at.info)


def test_importing_lib_ui_has_no_side_effects_on_the_process():
    code = "import gc, lib.ui; print(gc.get_freeze_count())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
