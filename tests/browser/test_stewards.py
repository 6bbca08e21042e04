"""A steward fixes one flagged record through the real UI (chromium + a running app)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def _goto(page, url, title):
    """Open a page through the sidebar link (the session survives even before the login cookie
    is written, which takes a while on a loaded machine)."""
    del url
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    try:
        page.locator("h1").filter(has_text=title).wait_for(timeout=90_000)
    finally:
        screenshot(page, f"stewards-goto-{title.replace(' ', '-').lower()}")
    settle(page, timeout=120)


def _wait_for_email_items(page):
    try:
        page.get_by_text(re.compile(r"Issue: Email valid\.")).wait_for(timeout=60_000)
    finally:
        screenshot(page, "stewards-queue-filtered")
    settle(page)


def test_steward_runs_checks_and_fixes_an_invalid_email_from_the_queue(app_server, page):
    log_in(page, app_server, "steward", "steward-demo")
    page.get_by_text("Signed in as").wait_for(timeout=90_000)
    _goto(page, f"{app_server}/quality", "Data quality")
    screenshot(page, "stewards-quality-before")
    page.get_by_role("button", name="Run quality checks now").click()
    settle(page, timeout=120)
    no_exceptions(page)
    page.get_by_text(re.compile(r"Run \d+ finished")).wait_for(timeout=60_000)

    _goto(page, f"{app_server}/review_queue", "Review queue")
    page.get_by_test_id("stSelectbox").filter(has_text="Rule").click()
    page.get_by_role("option", name="Email valid", exact=True).click()
    _wait_for_email_items(page)
    heading = page.locator("h3").filter(has_text="Customer #").first.inner_text()
    email = page.get_by_role("textbox", name="Email", exact=True)
    assert "@" in email.input_value()
    email.fill("fixed.by.steward@example.com")
    page.get_by_role("button", name="Validate and save").click()
    settle(page)
    no_exceptions(page)
    page.get_by_text(re.compile(r"Customer #\d+ saved; the flag is resolved")).wait_for(timeout=30_000)
    screenshot(page, "stewards-fixed-flag")
    # the fixed record has left the email worklist: the next rerun opens another record
    fixed_id = re.search(r"#(\d+)", heading).group(1)
    page.locator("h1").first.click()
    page.keyboard.press("r")  # Streamlit's "rerun" shortcut
    page.get_by_text(re.compile(r"Customer #\d+ saved")).wait_for(state="detached", timeout=60_000)
    _wait_for_email_items(page)
    assert f"#{fixed_id} " not in page.locator("h3").filter(has_text="Customer #").first.inner_text()
