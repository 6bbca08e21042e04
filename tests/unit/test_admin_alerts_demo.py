"""The alert rules stay quiet on the demo's normal traffic: the demo build and its first jobs,
then each demo user signing in, searching, opening records, downloading small tables, one
ID reveal, and the scheduled quality run and churn scoring repeated, all in working hours."""

from __future__ import annotations

import os
from datetime import datetime

import bcrypt
import pytest

from lib import demo
from lib.admin import alerts, setting_changes
from lib.core import warehouse
from lib.dashboards import customers
from lib.marketing import churn
from lib.security import auth, exports, privacy
from lib.stewardship import quality

WORKING_HOURS = datetime(2026, 12, 2, 10, 30)  # a Wednesday morning


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory):
    real = bcrypt.gensalt
    bcrypt.gensalt = lambda rounds=4, prefix=b"2b": real(4, prefix)
    os.environ["C360_DEMO"] = "1"
    path = tmp_path_factory.mktemp("alerts-demo") / "demo.duckdb"
    started = datetime.now()
    try:
        demo.build(1500, 11, demo.DEFAULT_AS_OF, str(path))
        auth.seed_demo_users()
        setting_changes.put_system("data_as_of", demo.DEFAULT_AS_OF.isoformat())
        quality.run(auth.SYSTEM)  # the demo's first jobs (lib.commands.core._first_jobs)
        churn.train(auth.SYSTEM)
        churn.score(auth.SYSTEM)
        yield started
    finally:
        bcrypt.gensalt = real
        warehouse.dispose()
        warehouse.use(None)


def test_the_demo_and_its_normal_traffic_raise_no_alert(demo_warehouse, monkeypatch):
    monkeypatch.setattr(alerts, "clock", lambda: WORKING_HOURS)
    setting_changes.put_system("off_hours_enabled", True)  # every rule is on
    signed_in = {}
    for username, spec in auth.DEMO_USERS.items():
        result = auth.authenticate(username, spec["password"], "10.0.0.20")
        assert result.user is not None
        signed_in[username] = result.user
    assert auth.authenticate("steward", "typo-in-password", "10.0.0.21").user is None  # one slip
    ids = warehouse.scalar("SELECT list(customer_id ORDER BY customer_id) FROM customers LIMIT 1")[:20]
    for username in ("steward", "admin", "manager"):
        user = signed_in[username]
        found = customers.search(user, "张")
        for customer_id in ids:
            customers.profile(user, customer_id)
        exports.deliver(user, exports.Download("customer_search", found.rows, "search"))
    privacy.reveal_id_number(signed_in["admin"], ids[0], "identity check at the service desk")
    quality.run(auth.SYSTEM)  # the nightly jobs again, on unchanged data
    churn.score(auth.SYSTEM)

    assert warehouse.records("alerts_list", status=None, limit=100, quality_only=False) == []
    evaluated = alerts.replay(demo_warehouse, off_hours_clock=lambda: WORKING_HOURS)
    assert evaluated > 20
    assert warehouse.records("alerts_list", status=None, limit=100, quality_only=False) == []
