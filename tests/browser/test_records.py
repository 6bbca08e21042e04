"""A steward adds a customer through the New customer form and opens its 360° page (issue #16)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def test_steward_adds_a_customer_and_sees_its_360_page(app_server, page):
    log_in(page, app_server, "steward", "steward-demo")
    page.get_by_text("Signed in as").wait_for(timeout=90_000)
    page.get_by_test_id("stSidebar").get_by_role("link", name="New customer", exact=True).click()
    page.locator("h1").filter(has_text="New customer").wait_for(timeout=90_000)
    settle(page, timeout=120)

    page.get_by_role("textbox", name="Name", exact=True).fill("测试新客")
    page.get_by_role("textbox", name="Mobile", exact=True).fill("199 8765 4321")
    page.get_by_role("textbox", name="Email", exact=True).fill("new.customer.by.steward@example.org")
    page.get_by_role("textbox", name="City", exact=True).fill("杭州市")
    page.get_by_role("button", name="Check and save").click()
    settle(page, timeout=120)
    no_exceptions(page)
    if page.get_by_role("button", name="Save anyway (a different person)").count():
        page.get_by_role("button", name="Save anyway (a different person)").click()  # a demo look-alike
        settle(page, timeout=120)
    saved = page.get_by_text(re.compile(r"Customer \d+ was saved\."))
    saved.wait_for(timeout=60_000)
    screenshot(page, "records-new-customer-saved")
    customer_id = re.search(r"Customer (\d+)", saved.inner_text()).group(1)

    page.get_by_role("link", name=f"Open the 360° page of customer {customer_id}").click()
    page.locator("h1").filter(has_text=f"测试新客 · #{customer_id}").wait_for(timeout=90_000)
    settle(page, timeout=120)
    no_exceptions(page)
    screenshot(page, "records-new-customer-360")
    assert page.get_by_text("Entered by hand / M" + customer_id).count() >= 1  # source / record key in the profile
    assert page.get_by_text("Edit profile").count() == 1
