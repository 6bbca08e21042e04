"""Sessions end for real (issue #13 item 5), in Debian's chromium against `streamlit run serve.py`.

A login cookie copied out of a browser is replayed in a fresh browser context (another
machine, for the app): after the user logs out, or after an admin resets their password, it
must bring back the login form and no data. The cookie is written by the server
(lib/ui/routes.py): httpOnly, SameSite=Strict, invisible to page scripts. A forged cookie
(`alg: none`) shows the login form, not a traceback.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser

COOKIE = "c360_session"
STRONG = "violet-kettle-harbour"


def _login_cookie(page, seconds: float = 20.0) -> dict:
    for _ in range(int(seconds * 10)):
        found = [c for c in page.context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the login cookie was not written")


def _shows_only_the_login_form(page) -> None:
    expect(page.get_by_role("textbox", name=re.compile("Password"))).to_have_count(1, timeout=20_000)
    settle(page)
    no_exceptions(page)
    assert page.get_by_role("button", name=re.compile("Log out")).count() == 0
    assert (
        page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"], [data-testid="stPlotlyChart"]').count()
        == 0
    )


def _replay(browser, url: str, cookie: dict, path: str = "/overview"):
    """A fresh browser context that carries only the copied cookie."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "secure", "sameSite")}])
    page = ctx.new_page()
    page.goto(url + path)
    return ctx, page


def test_the_login_cookie_is_httponly_strict_and_hidden_from_page_scripts(app_server, page):
    log_in(page, app_server, "manager", "manager-demo")
    cookie = _login_cookie(page)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")
    assert COOKIE not in page.evaluate("document.cookie")


def test_a_copied_cookie_works_while_signed_in_and_not_after_logout(app_server, page, browser):
    log_in(page, app_server, "manager", "manager-demo")
    cookie = _login_cookie(page)
    ctx, thief = _replay(browser, app_server, cookie)  # the copy works before logout...
    expect(thief.get_by_role("button", name=re.compile("Log out"))).to_be_visible(timeout=20_000)
    ctx.close()
    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page.get_by_role("textbox", name=re.compile("Password"))).to_be_visible(timeout=20_000)
    ctx, thief = _replay(browser, app_server, cookie)  # ... and not after it
    try:
        _shows_only_the_login_form(thief)
        screenshot(thief, "sessions-cookie-replayed-after-logout")
    finally:
        ctx.close()


def test_a_copied_cookie_and_the_open_tab_end_when_an_admin_resets_the_password(app_server, page, browser):
    log_in(page, app_server, "lead", "lead-demo")
    cookie = _login_cookie(page)
    admin_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    admin = admin_ctx.new_page()
    try:
        log_in(admin, app_server, "admin", "admin-demo")
        _login_cookie(admin)  # before a new page load
        admin.goto(app_server + "/users")
        settle(admin)
        admin.get_by_role("tab", name=re.compile("Password and lockout")).click()
        panel = admin.get_by_role("tabpanel", name=re.compile("Password and lockout"))
        panel.get_by_test_id("stSelectbox").click()
        admin.get_by_role("option", name="lead", exact=True).click()
        settle(admin)
        panel.get_by_role("textbox", name=re.compile("New password")).fill(STRONG)
        panel.get_by_role("button", name=re.compile("Reset password")).click()
        expect(admin.get_by_text(re.compile("Password of lead reset"))).to_be_visible(timeout=20_000)
    finally:
        admin_ctx.close()
    ctx, thief = _replay(browser, app_server, cookie, "/segments")
    try:
        _shows_only_the_login_form(thief)
    finally:
        ctx.close()
    # the lead's own open tab stops on its next click
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=re.compile("Overview")).click()
    _shows_only_the_login_form(page)
    expect(page.get_by_text(re.compile("Your session has ended"))).to_be_visible()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"username": "admin", "sid": "x" * 43, "exp": 4102444800})
        + ".",
        "garbage",
    ],
    ids=["alg-none", "garbage"],
)
def test_a_forged_cookie_shows_the_login_form_and_no_traceback(app_server, browser, value):
    host = app_server.split("//")[1].split(":")[0]
    ctx, page = _replay(
        browser,
        app_server,
        {
            "name": COOKIE,
            "value": value,
            "domain": host,
            "path": "/",
            "httpOnly": True,
            "secure": False,
            "sameSite": "Strict",
        },
    )
    try:
        _shows_only_the_login_form(page)
    finally:
        ctx.close()


def test_an_odd_id_in_the_360_url_is_no_traceback(app_server, page):
    log_in(page, app_server, "manager", "manager-demo")
    _login_cookie(page)
    page.goto(app_server + "/customer_360?id=%C2%B2")  # ?id=²
    expect(page.get_by_text(re.compile("enter a customer id"))).to_be_visible(timeout=20_000)
    settle(page)
    no_exceptions(page)
