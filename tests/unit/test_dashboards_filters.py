"""Filters: validation, previous period, URL round trip."""

from __future__ import annotations

from datetime import date

import pytest

from lib.dashboards import filters as flt
from lib.dashboards.filters import Filters


def test_default_window_is_the_last_twelve_complete_months():
    assert flt.default_window(date(2026, 11, 20)) == (date(2025, 11, 1), date(2026, 10, 31))
    assert flt.default_window(date(2026, 1, 1)) == (date(2025, 1, 1), date(2025, 12, 31))


def test_end_before_start_is_refused():
    with pytest.raises(ValueError):
        Filters(date(2026, 2, 1), date(2026, 1, 31))


def test_url_round_trip_keeps_every_filter():
    f = Filters(
        date(2026, 1, 1),
        date(2026, 3, 31),
        channel=("web", "app"),
        province=("广东省",),
        customer_type=("B2B",),
        lifecycle_stage=("repeat",),
    )
    params = f.to_params()
    assert params == {
        "from": "2026-01-01",
        "to": "2026-03-31",
        "ch": "app,web",
        "prov": "广东省",
        "type": "B2B",
        "stage": "repeat",
    }
    assert Filters.from_params(params, flt.default(date(2026, 11, 1))) == f


def test_invalid_url_values_fall_back_to_the_default():
    default = flt.default(date(2026, 11, 1))
    got = Filters.from_params({"from": "yesterday", "to": "2020-01-01", "ch": "web"}, default)
    assert (got.start, got.end, got.channel) == (default.start, default.end, ("web",))


def test_window_params_split_edges_and_whole_months():
    from lib.dashboards import metrics

    p = metrics.window_params("w", date(2026, 1, 15), date(2026, 4, 2), date(2025, 12, 1))
    assert p["w_I"] == 0b1100 and (p["w_m1"], p["w_m2"]) == (date(2026, 2, 1), date(2026, 3, 1))
    assert (p["w_e1"], p["w_e2"], p["w_lw"]) == (date(2026, 1, 1), date(2026, 4, 1), date(2026, 3, 1))
    assert (p["w_d1"], p["w_d2"]) == (date(2026, 1, 31), date(2026, 4, 1))
    assert p["w_from"] == ((1 << 31) - 1) ^ ((1 << 14) - 1) and p["w_to"] == 0b11
    same = metrics.window_params("w", date(2026, 1, 3), date(2026, 1, 5), date(2025, 12, 1))
    assert same["w_I"] == 0 and same["w_from"] == 0b11100 and same["w_e1"] == date(2026, 1, 1)
    assert same["w_e2"] is None and same["w_m1"] > same["w_m2"]
    assert (same["w_d1"], same["w_d2"]) == (date(2026, 1, 5), date(2026, 1, 6))
    with pytest.raises(ValueError):
        metrics.window_params("w", date(2010, 1, 1), date(2026, 1, 5), date(2025, 12, 1))


def test_whole_month_windows_have_no_edges():
    from lib.dashboards import metrics

    p = metrics.window_params("w", date(2026, 1, 1), date(2026, 3, 31), date(2025, 12, 1))
    assert p["w_I"] == 0b1110 and p["w_e1"] is None and p["w_e2"] is None
    assert (p["w_m1"], p["w_m2"], p["w_lw"]) == (date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 1))
    assert p["w_d1"] < p["w_a"] and p["w_d2"] > p["w_b"]  # both day ranges empty
    half = metrics.window_params("w", date(2026, 1, 1), date(2026, 1, 15), date(2025, 12, 1))
    assert half["w_I"] == 0 and half["w_e1"] == date(2026, 1, 1) and half["w_from"] == (1 << 15) - 1


def test_upto_params_use_whole_months_then_days():
    from lib.dashboards import metrics

    assert metrics.upto_params("u", date(2026, 3, 31)) == {
        "u_um": date(2026, 3, 1),
        "u_ua": date(2026, 4, 1),
        "u_ub": date(2026, 3, 31),
    }
    assert metrics.upto_params("u", date(2026, 3, 9)) == {
        "u_um": date(2026, 2, 1),
        "u_ua": date(2026, 3, 1),
        "u_ub": date(2026, 3, 9),
    }
