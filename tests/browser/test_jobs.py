"""The real browser as admin on the Jobs page: the server's scheduler is running, and "Run now"
shows its progress, then the outcome and the new run at the top of the history."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in, no_exceptions, screenshot, settle

pytestmark = pytest.mark.browser


def test_admin_runs_a_job_now_and_sees_it_in_the_history(app_server, page):
    log_in(page, app_server, "admin", "admin-demo")
    page.locator('[data-testid="stSidebar"] a[href="jobs"]').click()
    settle(page)
    no_exceptions(page)
    # serve.py started the scheduler in the server process (one per process, not per session)
    assert page.get_by_text("The scheduler is running in this server process.").count() == 1
    history = page.locator('[data-testid="stDataFrame"]')
    assert page.get_by_text("No runs yet.").count() == 1 or history.count() == 2

    page.get_by_role("button", name="Run now").click()
    settle(page, timeout=120)
    no_exceptions(page)
    done = page.get_by_text(re.compile(r"^Dashboard aggregates refresh: done, [\d,]+ rows in [\d.]+ s\."))
    assert done.count() == 1, page.locator('[data-testid="stMain"]').inner_text()[:2000]
    assert history.count() == 2  # the jobs table and the history
    # the grid draws on a canvas; its accessible table (inside the canvas) holds the cells
    first = history.nth(1).locator('tbody tr[role="row"]').first.locator('td[role="gridcell"]')
    cells = first.all_text_contents()
    assert cells[1:4] == ["Dashboard aggregates refresh", "Run now", "admin"], cells
    assert cells[7] == "OK", cells
    if cells[8] == "0":
        # the hourly run (or another test's) came first: nothing changed since, so the
        # aggregates were kept and the note says when they were built
        assert re.fullmatch(r"Unchanged since \d{4}-\d\d-\d\d \d\d:\d\d: kept \(2,000 customers.*", cells[9]), cells
    else:
        assert cells[8] == "2,000", cells  # the demo's 2,000 customers
        assert re.fullmatch(r"2,000 customers, [\d,]+ orders, [\d,]+ events in [\d.]+ s", cells[9]), cells
    screenshot(page, "admin-jobs-run-now")
