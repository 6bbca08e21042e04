"""A marketer starts a win-back campaign from the churn page and launches it in the browser;
the campaigns page then shows the frozen groups, and a past demo campaign its uplift."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def main(page):
    return page.locator('[data-testid="stMain"]')


def test_marketer_launches_a_winback_campaign(app_server, page):
    log_in(page, app_server, "marketing", "marketing-demo")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Churn risk & CLV", exact=True).click()
    page.locator("h1").filter(has_text="Churn risk & CLV").wait_for(timeout=90_000)
    settle(page, timeout=60)
    no_exceptions(page)

    page.get_by_role("button", name="Create a win-back campaign from the high-risk list").click()
    try:
        page.locator("h1").filter(has_text="Campaigns").wait_for(timeout=90_000)
    finally:
        screenshot(page, "campaigns-winback-draft")
    settle(page, timeout=60)
    no_exceptions(page)
    main(page).locator("h3").filter(has_text=re.compile(r"Win-back")).first.wait_for(timeout=30_000)
    main(page).get_by_text(re.compile(r"members are frozen and the control group is drawn")).wait_for(timeout=30_000)

    page.get_by_role("button", name="Launch campaign").click()
    settle(page, timeout=60)
    launched = main(page).get_by_text(re.compile(r"Launched: [\d,]+ members")).first
    launched.wait_for(timeout=60_000)
    screenshot(page, "campaigns-launched")
    members, treated, control = (
        int(x.replace(",", ""))
        for x in re.search(r"([\d,]+) members, ([\d,]+) to contact, ([\d,]+) held out", launched.inner_text()).groups()
    )
    assert members == treated + control and control == round(members * 0.1) and members > 0
    no_exceptions(page)

    # a past demo campaign shows its uplift with an interval and a verdict
    main(page).locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile("618")).click()
    settle(page, timeout=60)
    main(page).get_by_text(re.compile(r"95% interval")).first.wait_for(timeout=30_000)
    main(page).get_by_text(re.compile(r"The campaign raised purchases")).wait_for(timeout=30_000)
    screenshot(page, "campaigns-past-results")
    no_exceptions(page)
