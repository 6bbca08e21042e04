"""The real browser as admin: reveal an ID number with a reason (then find it in the audit log),
take a snapshot and run the restore drill (pass)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser

REASON = "browser test: identity check #4711"


def go(page, url_path: str) -> None:
    page.locator(f'[data-testid="stSidebar"] a[href="{url_path}"]').click()
    settle(page)
    no_exceptions(page)


def test_admin_reveals_an_id_and_the_audit_log_shows_it(app_server, page):
    log_in(page, app_server, "admin", "admin-demo")
    go(page, "privacy")
    for customer_id in range(1, 40):  # the first demo customer that has an ID number
        box = page.get_by_role("textbox", name="Customer id")
        box.fill(str(customer_id))
        box.press("Enter")
        settle(page)
        page.get_by_role("textbox", name=re.compile("Reason")).first.fill(REASON)
        page.get_by_role("button", name="Reveal").click()
        settle(page)
        no_exceptions(page)
        if page.locator('[data-testid="stCode"]').count():
            break
    else:
        pytest.fail("no demo customer with an ID number among the first 40")
    revealed = page.locator('[data-testid="stCode"]').inner_text().strip()
    assert re.fullmatch(r"\d{17}[\dX]", revealed), revealed
    screenshot(page, "admin-reveal")

    go(page, "audit")
    record = page.get_by_role("textbox", name="Record id")
    record.fill(str(customer_id))
    record.press("Enter")
    settle(page)
    action = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').nth(1)
    action.click()
    page.keyboard.type("Revealed a resident ID")  # action names are shown, not codes
    page.keyboard.press("Enter")
    settle(page)
    no_exceptions(page)
    assert page.get_by_text(re.compile(r"^1 entry matches")).count() == 1
    screenshot(page, "admin-audit-after-reveal")


def test_admin_runs_a_passing_restore_drill(app_server, page):
    log_in(page, app_server, "admin", "admin-demo")
    go(page, "backups")
    page.get_by_role("button", name="Create snapshot").click()
    settle(page, timeout=60)
    no_exceptions(page)
    assert page.get_by_text(re.compile(r"Snapshot \S+ created")).count() == 1
    page.get_by_role("button", name="Run restore drill").click()
    settle(page, timeout=60)
    no_exceptions(page)
    assert page.get_by_text(re.compile(r"Drill passed: snapshot \S+ restores to an identical")).count() == 1
    screenshot(page, "admin-drill")
    # a newer snapshot: the drill's choice moves to it (the browser sends back the widget's old
    # choice, so clearing it on the server was not enough)
    page.get_by_role("button", name="Create snapshot").click()
    settle(page, timeout=60)
    created = page.get_by_text(re.compile(r"Snapshot \S+ created")).inner_text()
    newest = re.search(r"Snapshot (\S+) created", created).group(1)
    page.get_by_role("button", name="Run restore drill").click()
    settle(page, timeout=60)
    assert page.get_by_text(f"Drill passed: snapshot {newest} ", exact=False).count() == 1
