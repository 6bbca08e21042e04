"""A marketer builds a segment in the browser, sees its reachable audience and downloads it."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def main(page):
    return page.locator('[data-testid="stMain"]')


def test_marketer_builds_a_segment_and_downloads_its_export(app_server, page):
    log_in(page, app_server, "marketing", "marketing-demo")
    # follow the sidebar link: same session, no reliance on the login cookie being written yet
    page.get_by_test_id("stSidebar").get_by_role("link", name="Segments & audiences", exact=True).click()
    try:
        page.locator("h1").filter(has_text="Segments & audiences").wait_for(timeout=90_000)
    finally:
        screenshot(page, "marketing-segments-opened")
    settle(page, timeout=60)
    no_exceptions(page)

    # condition 1 (the default row): RFM segment is ... -> choose "At Risk"
    value_box = main(page).locator('[data-testid="stSelectbox"]').nth(2)
    value_box.click()
    page.get_by_role("option", name="At Risk", exact=True).click()
    settle(page, timeout=60)
    # condition 2: add one, make it "SMS consent: yes"
    page.get_by_role("button", name=re.compile("Condition")).click()
    settle(page, timeout=60)
    main(page).locator('[data-testid="stSelectbox"]').nth(3).click()
    page.keyboard.type("SMS consent")  # the field list is long and virtualised: filter it
    page.get_by_role("option", name=re.compile("SMS consent")).click()
    settle(page, timeout=60)
    no_exceptions(page)
    expect_text = main(page).get_by_text(re.compile(r"Reads as: .*SMS consent yes"))  # the condition in words
    expect_text.first.wait_for(timeout=30_000)

    members = int(main(page).locator('[data-testid="stMetricValue"]').first.inner_text().replace(",", ""))
    assert members > 0
    screenshot(page, "marketing-segment-built")

    page.get_by_role("button", name="Prepare export").click()
    settle(page, timeout=60)
    ready = main(page).get_by_text(re.compile(r"reachable contacts in")).first
    ready.wait_for(timeout=30_000)
    rows = int(re.search(r"([\d,]+) reachable contacts", ready.inner_text()).group(1).replace(",", ""))
    assert 0 < rows <= members

    with page.expect_download() as info:
        main(page).locator('[data-testid="stDownloadButton"] button').first.click()
    download = info.value
    assert re.fullmatch(r"segment-sms-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    data = open(download.path(), "rb").read().decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(data)))
    assert len(records) == rows
    assert {r["rfm_segment"] for r in records} == {"At Risk"}
    # marketing sees masked mobiles only
    assert all("****" in r["mobile"] for r in records)
    screenshot(page, "marketing-segment-exported")
