"""The Customer 360 page says when a registration date was inferred, or is unknown (issue #14)."""

from __future__ import annotations

from datetime import datetime

from lib.stewardship import registration
from lib.core import warehouse
from tests import factories as f
from tests.app.helpers import as_user, open_page


def _profile_values(at) -> list[str]:
    return [str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()]


def test_the_360_page_marks_an_inferred_and_an_unknown_registration_date(warehouse_path):
    with warehouse.transaction() as tx:
        f.customer(tx, 1, registered_at=None)
        f.customer(tx, 2, registered_at=None)
        f.order(tx, 1, datetime(2025, 3, 1, 8, 15), 10.0, with_event=False)
        registration.infer(tx)
    at = as_user("manager")
    at.query_params["id"] = "1"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    assert "2025-03-01 08:15 (inferred from the first order or event)" in _profile_values(at)
    at = as_user("manager")
    at.query_params["id"] = "2"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    assert "unknown (no order or event yet)" in _profile_values(at)
