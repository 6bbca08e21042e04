"""A manager reads the KPIs, searches a customer and opens the 360° page (real browser)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle


def _sidebar_link(page, label: str):
    return page.locator('[data-testid="stSidebar"]').get_by_role("link", name=re.compile(label))


@pytest.mark.browser
def test_manager_reads_kpis_searches_and_opens_a_customer_360(app_server, page):
    log_in(page, app_server, "manager", "manager-demo")
    if page.get_by_role("button", name=re.compile("Log out")).count() == 0:
        log_in(page, app_server, "manager", "manager-demo")  # first login after a server start
    _sidebar_link(page, "Overview").click()
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    settle(page)
    no_exceptions(page)
    labels = [s.strip() for s in page.locator('[data-testid="stMetricLabel"]').all_inner_texts()]
    assert labels[:8] == [
        "Customers",
        "New customers",
        "Active customers",
        "Revenue",
        "Average order value",
        "Repurchase rate",
        "Churn rate",
        "Average historical LTV",
    ]
    # NPS and CSAT with their response counts (the demo's survey answers)
    assert [re.sub(r"[\d,]+", "N", label) for label in labels[8:]] == ["NPS · N responses", "CSAT · N responses"]
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert re.fullmatch(r"[\d,]+", values[0].strip()) and int(values[0].replace(",", "")) > 0
    assert "from=" in page.url and "to=" in page.url  # the view can be shared
    assert page.locator(".js-plotly-plot").count() == 2  # monthly trends: the open tab only
    # The figures' margins already hold their axes' labels (lib/core/plot_theme.py), so plotly's
    # automargin had nothing to add and drew each chart once, not twice.
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(g => [g.layout.margin, g._fullLayout._size])"
    )
    for given, used in drawn:
        assert all(abs(used[side] - given[side]) <= 1 for side in "lrtb"), (given, used)
    screenshot(page, "dashboards-overview")
    for view, charts in (("Breakdowns", 4), ("Lifecycle and cohorts", 2)):
        page.get_by_role("tab", name=view).click()
        expect(page.locator(".js-plotly-plot")).to_have_count(charts, timeout=30_000)
        settle(page)
        no_exceptions(page)
        assert "view=" in page.url  # the open tab is in the URL too
        screenshot(page, "dashboards-overview-" + view.split()[0].lower())

    _sidebar_link(page, "Customer search").click()
    box = page.get_by_role("textbox", name=re.compile("Name, pinyin"))
    box.wait_for(timeout=30_000)
    box.fill("wang")
    box.press("Enter")
    first = page.get_by_role("button", name=re.compile(r"\d+ · ")).first
    first.wait_for(timeout=60_000)
    settle(page)
    no_exceptions(page)
    assert "q=wang" in page.url
    assert page.get_by_text(re.compile(r"Page 1 of \d+")).count() == 1
    screenshot(page, "dashboards-search")

    first.click()
    page.wait_for_url(re.compile(r"customer_360\?id=\d+"), timeout=30_000)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    settle(page)
    no_exceptions(page)
    assert page.get_by_text("Lifecycle stage").count() >= 1
    assert page.locator(".js-plotly-plot").count() == 1  # the timeline
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert not re.search(r"\+86\d{11}", body)  # no unmasked mobile for a manager
    screenshot(page, "dashboards-customer-360")
