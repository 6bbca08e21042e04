"""A steward logs a call with a follow-up on a customer's 360° page and finds it in My
follow-ups (issue #16), through the real UI (chromium + a running app on the demo warehouse)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser

CUSTOMER = "12"


def _goto(page, title, landmark=None):
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    try:
        (landmark or page.locator("h1").filter(has_text=title).first).wait_for(timeout=90_000)
    finally:
        screenshot(page, f"interactions-goto-{title.replace(' ', '-').lower()}")
    settle(page, timeout=120)


def test_steward_logs_a_call_with_a_follow_up_and_sees_it_in_my_follow_ups(app_server, page):
    log_in(page, app_server, "steward", "steward-demo")
    page.get_by_text("Signed in as").wait_for(timeout=90_000)
    box = page.get_by_role("textbox", name="Customer id")
    _goto(page, "Customer 360°", box)  # without an id the page shows only this box
    box.fill(CUSTOMER)
    box.press("Enter")
    page.locator("h1").filter(has_text=f"#{CUSTOMER}").wait_for(timeout=60_000)
    settle(page, timeout=120)
    no_exceptions(page)

    page.get_by_role("tab", name="Interactions").click()  # the timeline, and the form below it
    settle(page)
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Save interaction"))
    form.get_by_test_id("stSelectbox").filter(has_text="Channel").click()
    page.get_by_role("option", name="Phone", exact=True).click()
    form.get_by_test_id("stSelectbox").filter(has_text="Outcome").click()
    page.get_by_role("option", name="Needs follow-up", exact=True).click()
    form.get_by_role("textbox", name="Note").fill("Asked for the winter catalogue; call back")
    form.get_by_text("Follow up", exact=True).click()  # the checkbox; the date defaults to tomorrow
    form.get_by_role("button", name="Save interaction").click()
    settle(page, timeout=120)
    no_exceptions(page)
    page.get_by_text(re.compile(r"Interaction No\. \d+ saved\.")).wait_for(timeout=60_000)
    # the timeline above the form lists the call
    page.get_by_test_id("stDataFrame").filter(has_text="Recorded as").wait_for(timeout=60_000)
    screenshot(page, "interactions-logged")

    _goto(page, "My follow-ups")
    no_exceptions(page)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    picked = page.get_by_test_id("stSelectbox").filter(has_text="Follow-up")
    picked.wait_for(timeout=60_000)
    # the chosen option is drawn as text or as the value of the box's input, by version
    text = picked.evaluate("e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    assert tomorrow in text and f"#{CUSTOMER} " in text and "Call" in text, text
    assert page.get_by_test_id("stMetric").filter(has_text="Open").get_by_test_id("stMetricValue").inner_text() == "1"
    screenshot(page, "interactions-my-follow-ups")

    page.get_by_role("button", name="Mark done").click()
    settle(page, timeout=120)
    no_exceptions(page)
    page.get_by_text("Follow-up marked done.").wait_for(timeout=60_000)
    page.get_by_text("No open follow-ups.").wait_for(timeout=60_000)
