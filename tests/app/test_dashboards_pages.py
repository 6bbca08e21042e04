"""Overview, search and Customer 360° render for every role, with PII masked per role."""
from __future__ import annotations

import pytest

from tests import dashboards_fixture as fixture
from tests.app.helpers import as_user, open_page

ROLES = ["manager", "marketing", "steward", "admin"]
UNMASKED = {"steward", "admin"}


@pytest.fixture
def small(warehouse_path):
    fixture.build()
    return warehouse_path


def _texts(at) -> str:
    parts = [str(e.value) for e in at.markdown] + [str(e.value) for e in at.caption]
    parts += [str(e.value) for e in at.title] + [m.value for m in at.metric]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


@pytest.mark.parametrize("username", ROLES)
def test_overview_shows_every_kpi_with_true_numbers(small, username):
    at = open_page(as_user(username), "pages/01_overview.py")
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    # default period: the twelve complete months before June 2026 (2025-06-01..2026-05-31)
    assert len(cards) == 8
    assert cards["Customers"] == "6" and cards["New customers"] == "3"   # 8 (June), 5, 2
    assert len(at.get("plotly_chart")) == 8


@pytest.mark.parametrize("username", ROLES)
def test_home_shows_the_revenue_trend_of_the_overviews_default_window(small, username):
    import json

    from lib import metrics, settings
    from lib.filters import default
    at = as_user(username)
    at.run()
    assert not at.exception, at.exception
    (chart,) = at.get("plotly_chart")
    bars = json.loads(chart.proto.spec)["data"][0]
    monthly = metrics.monthly_trends(default(settings.as_of()))
    ys = _values(bars["y"])
    assert len(_values(bars["x"])) == len(monthly) == 12
    assert ys == pytest.approx(monthly["revenue"].tolist()) and sum(ys) > 0


def _values(encoded) -> list:
    """A plotly JSON array: a list, or plotly 6's typed array ({"dtype", "bdata": base64})."""
    if isinstance(encoded, dict) and "bdata" in encoded:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist()
    return list(encoded)


def test_overview_filters_apply_and_land_in_the_url(small):
    at = open_page(as_user("manager"), "pages/01_overview.py")
    at.sidebar.multiselect(key="dash_f_channel").select("app").run()
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Customers"] == "1" and cards["Revenue"] == "¥500"
    assert at.query_params["ch"] in ("app", ["app"])


@pytest.mark.parametrize("username", ROLES)
def test_search_masks_contacts_unless_the_role_may_see_them(small, username):
    at = as_user(username)
    at.query_params["q"] = "13812345678"
    open_page(at, "pages/02_customers.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.iloc[0, 0] == 1
    text = _texts(at)
    if username in UNMASKED:
        assert "+8613812345678" in text and "zhang.san@example.com" in text
    else:
        assert "+86 138****5678" in text and "+8613812345678" not in text
        assert "zhang.san@example.com" not in text


@pytest.mark.parametrize("username", ROLES)
def test_customer_360_renders_with_masking(small, username):
    at = as_user(username)
    at.query_params["id"] = "1"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "张三 · #1"
    text = _texts(at)
    assert ("+8613812345678" in text) == (username in UNMASKED)
    assert ("+86 138****5678" in text) == (username not in UNMASKED)
    assert "Repeat" in text                        # lifecycle stage card
    assert len(at.get("plotly_chart")) == 1        # the timeline


def test_customer_360_unknown_id_says_so(small):
    at = as_user("manager")
    at.query_params["id"] = "999"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception
    assert any("999" in w.value for w in at.warning)
