"""AppTest helpers: start from app.py, log in through the real form or seed a session."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "app.py")


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def login(username: str, password: str) -> AppTest:
    """Log in through the login form, as a person would."""
    at = new_app()
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click()
    at.run()
    if at.session_state["authentication_status"]:
        at.run()  # the page as it looks after the post-login rerun
    return at


def as_user(username: str) -> AppTest:
    """An AppTest on the home page with `username` logged in.

    The session is seeded the way the login form leaves it, with a server-side session row (the
    form itself is tested in test_login_and_pages.py); the guard still re-reads the user and its
    roles from the warehouse on every run, so this exercises the real access checks without
    paying for bcrypt in every test.
    """
    from lib.security import auth, sessions
    from lib.ui import session

    spec = auth.DEMO_USERS[username]
    at = new_app()
    # a real server-side session (lib/security/sessions.py): the guard checks it on every run
    at.session_state[session.TOKEN] = sessions.start(username, "apptest")
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = spec["name"]
    at.session_state["roles"] = spec["roles"]
    at.session_state["logout"] = None
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, path: str) -> AppTest:
    at.switch_page(path)  # relative to app.py
    at.run()
    return at
