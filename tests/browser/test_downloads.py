"""A real click on a table download gives a formula-safe, masked file and exactly one audit row.

Downloads are lazy (the file is built and audited when the browser asks for it, not when the
page draws the button), so this is checked with a real browser: a manager downloads search
results; the admin's audit-log export, itself downloaded, shows one more `download` row.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, settle

pytestmark = pytest.mark.browser


def _sidebar_link(page, label: str):
    return page.locator('[data-testid="stSidebar"]').get_by_role("link", name=re.compile(label))


def _login(page, url, username):
    log_in(page, url, username, f"{username}-demo")
    if page.get_by_role("button", name=re.compile("Log out")).count() == 0:
        log_in(page, url, username, f"{username}-demo")  # first login after a server start


def _download(page, button) -> tuple[str, bytes]:
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    return download.suggested_filename, open(download.path(), "rb").read()


def _search_downloads_in_audit_log(browser, url) -> list[dict]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    try:
        _login(page, url, "admin")
        _sidebar_link(page, "Audit log").click()
        page.get_by_role("button", name="Prepare CSV export").wait_for(timeout=60_000)
        settle(page)
        page.get_by_role("button", name="Prepare CSV export").click()
        settle(page)
        name, data = _download(page, page.locator('[data-testid="stDownloadButton"] button').first)
        assert name == "audit_log.csv"
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        return [r for r in rows if r["action"] == "download" and r["entity"] == "customer_search"]
    finally:
        ctx.close()


def test_a_table_download_is_masked_formula_safe_and_audited_once(app_server, browser, page):
    before = _search_downloads_in_audit_log(browser, app_server)

    _login(page, app_server, "manager")
    _sidebar_link(page, "Customer search").click()
    box = page.get_by_role("textbox", name=re.compile("Name, pinyin"))
    box.wait_for(timeout=30_000)
    box.fill("wang")
    box.press("Enter")
    page.get_by_role("button", name=re.compile(r"\d+ · ")).first.wait_for(timeout=60_000)
    settle(page)
    no_exceptions(page)
    url = page.url
    # the table's own toolbar offers no CSV download or copy (client.disableDataExport): it
    # would hand out the rows unaudited and without formula neutralisation
    page.locator('[data-testid="stDataFrame"]').first.hover()
    page.wait_for_timeout(500)
    toolbar = page.locator('[data-testid="stElementToolbar"]').first
    toolbar.wait_for(timeout=10_000)
    assert toolbar.get_by_role("button").count() > 0  # the toolbar is there
    assert toolbar.get_by_role("button", name=re.compile("Download", re.I)).count() == 0

    name, data = _download(page, page.get_by_role("button", name="Download data (CSV)"))
    assert name == "customers_page_1.csv"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) > 0
    assert all("****" in r["mobile"] for r in rows if r["mobile"])  # masked for a manager
    assert all(not r["mobile"] or r["mobile"].startswith("'+") for r in rows)  # "+86 138****…" quoted
    assert page.url == url and page.get_by_role("button", name=re.compile(r"\d+ · ")).count() > 0

    after = _search_downloads_in_audit_log(browser, app_server)
    assert len(after) == len(before) + 1
    newest = max(after, key=lambda r: int(r["audit_id"]))
    assert newest["username"] == "manager"
    assert '"rows": %d' % len(rows) in newest["detail"]
    assert '"searched_by": ["latin"]' in newest["detail"]
