"""The app on a lake (AppTest): logins, every page that exists, and the same Overview numbers
as on the warehouse file the lake was migrated from."""

from __future__ import annotations

import os

import pytest

from lib.security import navigation
from lib.core import warehouse
from tests.app.helpers import as_user, login, open_page
from tests.app.test_login_and_pages import (  # noqa: F401 - collected here with the lake fixture
    test_wrong_password_sees_no_data_and_is_audited,
)
from tests.conftest import ROOT

EXISTING_PAGES = [p for p in navigation.PAGES if (ROOT / p.path).exists()]


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("username", ["manager", "admin"])
def test_each_demo_user_logs_in_on_a_lake_and_sees_its_home_page(lake_spec, username):
    from lib.security import auth

    at = login(username, auth.DEMO_USERS[username]["password"])  # the real form, on the lake
    assert not at.exception and at.session_state["authentication_status"] is True
    assert at.sidebar.get("page_link")
    assert warehouse.scalar("SELECT last_login IS NOT NULL FROM app_users WHERE username = :u", u=username)


def test_every_page_renders_on_the_demo_lake(on_demo_lake):
    """One admin session walks through every page file that exists (admins may open all)."""
    at = as_user("admin")
    failures = {}
    for page in EXISTING_PAGES:
        open_page(at, page.path)
        problems = [str(e.value) for e in at.exception] + [e.value for e in at.error if "do not allow" in e.value]
        if problems:
            failures[page.key] = problems[0][:300]
    assert len(EXISTING_PAGES) >= 1
    assert failures == {}


def test_overview_shows_the_same_numbers_on_the_lake_as_on_the_file(demo_lake, demo_file):
    def overview(location: str) -> dict[str, str]:
        warehouse.use(location)
        os.environ["C360_WAREHOUSE"] = location
        try:
            at = as_user("manager")
            open_page(at, "pages/01_overview.py")
            assert not at.exception, at.exception
            return _metrics(at)
        finally:
            warehouse.dispose()
            warehouse.use(None)
            os.environ.pop("C360_WAREHOUSE", None)

    on_lake = overview(demo_lake)
    on_file = overview(str(demo_file))
    assert len(on_lake) >= 4
    assert on_lake == on_file
