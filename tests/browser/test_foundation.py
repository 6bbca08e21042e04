"""The real browser: log in through the form, see true KPIs, and no page leaks data anonymously."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from lib.security import navigation
from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def test_manager_logs_in_and_sees_the_kpis(app_server, page):
    log_in(page, app_server, "manager", "manager-demo")
    no_exceptions(page)
    metrics = page.locator('[data-testid="stMetric"]')
    assert metrics.count() >= 4
    customers = page.locator('[data-testid="stMetric"]', has_text="Customers").first
    value = customers.locator('[data-testid="stMetricValue"]').inner_text()
    assert int(value.replace(",", "")) > 1000  # the 2,000-customer demo minus merged/deleted
    links = page.locator('[data-testid="stSidebar"] a')
    hrefs = {links.nth(i).get_attribute("href").rstrip("/").split("/")[-1] for i in range(links.count())}
    for p in navigation.PAGES:
        assert (p.url_path in hrefs) == ("manager" in p.roles), p.key
    screenshot(page, "foundation-manager-home")


def _wait_for_login_cookie(page, present: bool = True, seconds: float = 20.0) -> None:
    """The cookie is written (deleted) by a component in the browser after the login (logout)
    run: asynchronous, so wait for it."""
    for _ in range(int(seconds * 10)):
        if ("c360_session" in {c["name"] for c in page.context.cookies()}) == present:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the login cookie was not {'written' if present else 'deleted'}")


def test_the_login_cookie_keeps_the_user_signed_in_on_a_reloaded_page(app_server, page):
    log_in(page, app_server, "manager", "manager-demo")
    _wait_for_login_cookie(page)
    page.goto(app_server + "/customers")  # a new Streamlit session
    expect(page.get_by_role("button", name=re.compile("Log out"))).to_be_visible(timeout=20_000)
    settle(page)
    assert page.get_by_role("textbox", name=re.compile("Password")).count() == 0


def test_logging_out_ends_the_session_and_deletes_the_cookie(app_server, page):
    """The cookie is written and deleted by the server (lib/ui/routes.py) after a login or a
    logout, with no cookie component (iframe) on any page: the cookie is read from the request,
    page switches go without it, and a logout still deletes the cookie."""
    cookie_component = page.locator('iframe[title*="extra_streamlit_components"]')
    page.goto(app_server)
    settle(page)
    assert cookie_component.count() == 0  # read from the request, no iframe
    log_in(page, app_server, "manager", "manager-demo")
    _wait_for_login_cookie(page)
    page.goto(app_server + "/customers")  # a new session, signed in by the cookie
    expect(page.get_by_role("button", name=re.compile("Log out"))).to_be_visible(timeout=20_000)
    settle(page)
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=re.compile("Overview")).click()
    settle(page)
    assert cookie_component.count() == 0
    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page.get_by_role("textbox", name=re.compile("Password"))).to_be_visible(timeout=20_000)
    _wait_for_login_cookie(page, present=False)
    page.goto(app_server + "/overview")  # no cookie left: the login form again
    expect(page.get_by_role("textbox", name=re.compile("Password"))).to_be_visible(timeout=20_000)
    settle(page)
    assert page.get_by_role("button", name=re.compile("Log out")).count() == 0
    assert page.locator('[data-testid="stMetric"]').count() == 0


def test_wrong_password_shows_an_error_and_no_data(app_server, page):
    log_in(page, app_server, "manager", "wrong-password")
    assert page.get_by_text("Wrong username or password").count() == 1
    assert page.locator('[data-testid="stMetric"]').count() == 0


@pytest.mark.parametrize("url_path", [p.url_path for p in navigation.PAGES])
def test_every_page_url_without_a_session_shows_only_the_login_form(app_server, page, url_path):
    page.goto(f"{app_server}/{url_path}")
    # The form appears once the page's script has run; wait for it rather than for idleness.
    expect(page.get_by_role("textbox", name=re.compile("Password"))).to_have_count(1, timeout=20_000)
    settle(page)
    no_exceptions(page)
    data = page.locator(
        '[data-testid="stMetric"], [data-testid="stDataFrame"], [data-testid="stPlotlyChart"], [data-testid="stTable"]'
    )
    assert data.count() == 0
    # ... but the browser is already loading the chart library (lib/ui._load_chart_library)
    assert page.evaluate("""() => performance.getEntriesByType('resource')
        .some(entry => entry.name.includes('/static/js/PlotlyChart.'))""")


def test_every_app_page_preloads_the_chart_library_while_the_app_connects(app_server, page):
    """lib/ui/routes.py serves Streamlit's index.html with a modulepreload of its plotly chunk
    on "/" and every page's path, so a page opened from a link parses plotly.js while the script
    runs (docs/benchmarks.md), and with the server's base URL; everything else in the page is
    Streamlit's own."""
    import urllib.request

    from lib.ui.session import _plotly_chunk

    chunk = _plotly_chunk()
    assert chunk
    for path in ["/", *(f"/{p.url_path}" for p in navigation.PAGES)]:
        html = urllib.request.urlopen(app_server + path, timeout=10).read().decode()
        assert f'<link rel="modulepreload" crossorigin href="./static/js/{chunk}">' in html, path
        assert '<div id="root"></div>' in html and "index." in html, path
    page.goto(app_server + "/overview")
    preloads = page.evaluate(
        "() => [...document.querySelectorAll('link[rel=modulepreload]')].map(l => l.href.split('/').pop())"
    )
    assert chunk in preloads
    settle(page)
    # Fetched at the start of the page load, long before a chart could ask for it.
    started = page.evaluate(
        "(name) => performance.getEntriesByType('resource').filter(e => e.name.endsWith(name)).map(e => e.startTime)",
        chunk,
    )
    websocket_at = page.evaluate(
        "() => (performance.getEntriesByType('resource').find(e => e.name.includes('host-config')) || {}).startTime"
    )
    assert started and websocket_at and started[0] < websocket_at
    # The page names the server's base URL, so the front-end connects at once instead of first
    # probing under the page's own path (/overview/_stcore/health) and retrying 0.1 s later.
    probes = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)"
        ".filter(p => p.endsWith('/_stcore/health') || p.endsWith('/_stcore/host-config'))"
    )
    assert probes and set(probes) <= {"/_stcore/health", "/_stcore/host-config"}, probes
