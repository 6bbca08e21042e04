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
    """Log in as a demo user (through the form) and return the AppTest on the home page."""
    from lib import auth
    at = login(username, auth.DEMO_USERS[username]["password"])
    assert not at.exception, at.exception
    assert at.session_state["authentication_status"] is True
    return at


def open_page(at: AppTest, path: str) -> AppTest:
    at.switch_page(path)  # relative to app.py
    at.run()
    return at
