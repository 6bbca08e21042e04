"""Every Overview metric against numbers computed by hand on tests/dashboards_fixture.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib.dashboards import aggregates, metrics
from lib.core import settings, warehouse
from lib.dashboards.filters import Filters
from lib.admin import setting_changes
from tests import dashboards_fixture as fixture

W = Filters(*fixture.W)


@pytest.fixture
def small(warehouse_path):
    fixture.build()
    return warehouse_path


def test_previous_period_is_the_equally_long_period_just_before():
    assert W.days == 91
    assert (W.previous().start, W.previous().end) == (date(2025, 12, 31), date(2026, 3, 31))


def test_counts_exclude_merged_and_deleted_and_count_registrations_inside_the_window(small):
    k = metrics.kpis(W)
    # live registered by 2026-06-30: 1, 2, 3, 4, 5, 8 (6 merged, 7 deleted); by 2026-03-31: not 2
    assert (k["customers"]["value"], k["customers"]["previous"]) == (6, 5)
    assert k["customers"]["change"] == pytest.approx(0.2)
    # registered inside W: only 2; inside P: only 5 (registered on P's first day)
    assert (k["new_customers"]["value"], k["new_customers"]["previous"]) == (1, 1)


def test_active_means_any_event_in_the_period_including_its_last_minute(small):
    k = metrics.kpis(W)
    # W: 1 (purchases), 2 (purchase, return), 3 (browse at 23:59 on the last day); 5's
    # cancelled order has no event; 7 is deleted. P: 1 (browse), 3 (browse), 5 (purchase).
    assert (k["active"]["value"], k["active"]["previous"]) == (3, 3)
    assert k["active"]["change"] == 0


def test_revenue_is_net_of_refunds_and_ignores_cancelled_orders(small):
    k = metrics.kpis(W)
    # W: 200 + 300 (customer 1) + 500 + (80 - 80 refunded) (customer 2); 999 cancelled; 700 merged
    assert k["revenue"]["value"] == pytest.approx(1000.0)
    assert k["revenue"]["previous"] == pytest.approx(50.0)
    assert k["revenue"]["change"] == pytest.approx(19.0)


def test_average_order_value_divides_by_kept_orders(small):
    k = metrics.kpis(W)
    # kept orders in W: 1's two and 2's paid one (the refunded one is not kept)
    assert k["aov"]["value"] == pytest.approx(1000 / 3)
    assert k["aov"]["previous"] == pytest.approx(50.0)


def test_repurchase_rate_counts_buyers_whose_second_kept_order_is_by_the_end(small):
    k = metrics.kpis(W)
    # buyers in W: 1 (second kept order 2026-04-15) and 2 (one kept order, one refunded)
    assert k["repurchase_rate"]["value"] == pytest.approx(0.5)
    # buyers in P: 5 with a single order
    assert k["repurchase_rate"]["previous"] == 0
    assert k["repurchase_rate"]["change"] == pytest.approx(0.5)


def test_churn_rate_uses_the_configured_window(small):
    k = metrics.kpis(W)
    # buyers before 2025-07-01: 1 and 4; 1 bought again on 2026-04-15, 4 did not
    assert k["churn_rate"]["value"] == pytest.approx(0.5)
    # at 2026-03-31: buyers before 2025-04-01 are 1 and 4; neither bought 2025-04-01..2026-03-31
    assert k["churn_rate"]["previous"] == pytest.approx(1.0)
    setting_changes.put_system("churn_window_days", 30)
    # 30 days up to 2026-06-30: buyers before 2026-06-01 are 1, 2, 4, 5 and nobody bought in June
    assert metrics.kpis(W)["churn_rate"]["value"] == pytest.approx(1.0)


def test_average_ltv_is_revenue_to_date_per_buyer(small):
    k = metrics.kpis(W)
    # to 2026-06-30: 1: 600, 2: 500, 4: 1000 + 300, 5: 50 -> 2450 over 4 buyers
    assert k["avg_ltv"]["value"] == pytest.approx(612.5)
    # to 2026-03-31: 1: 100, 4: 1300, 5: 50 -> 1450 over 3 buyers
    assert k["avg_ltv"]["previous"] == pytest.approx(1450 / 3)


def test_filters_change_the_numbers(small):
    app = metrics.kpis(Filters(*fixture.W, channel=("app",)))
    assert (app["customers"]["value"], app["new_customers"]["value"], app["active"]["value"]) == (1, 1, 1)
    assert app["revenue"]["value"] == pytest.approx(500.0)
    assert app["customers"]["previous"] == 0 and app["customers"]["change"] is None
    zhejiang = metrics.kpis(Filters(*fixture.W, province=("浙江省",)))
    assert zhejiang["customers"]["value"] == 1 and zhejiang["churn_rate"]["value"] == 1.0
    assert zhejiang["revenue"]["value"] == 0 and zhejiang["aov"]["value"] is None
    stages = metrics.kpis(Filters(*fixture.W, lifecycle_stage=("prospect", "intent")))
    assert stages["customers"]["value"] == 2 and stages["active"]["value"] == 1


def test_monthly_trends_are_clipped_to_the_window(small):
    frame = metrics.monthly_trends(W)
    assert [m.isoformat() for m in frame["month"]] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    assert frame["new_customers"].tolist() == [0, 1, 0]
    assert frame["active_customers"].tolist() == [1, 2, 1]
    assert frame["revenue"].tolist() == [200.0, 800.0, 0.0]
    mid = metrics.monthly_trends(Filters(date(2026, 4, 20), date(2026, 5, 6)))
    assert mid["active_customers"].tolist() == [0, 1] and mid["revenue"].tolist() == [0.0, 500.0]


def test_breakdowns_by_channel_and_industry(small):
    frame = metrics.breakdowns(W)
    channel = frame[frame["dimension"] == "channel"].set_index("value")
    assert channel.loc["web", ["customers", "new_customers", "revenue"]].tolist() == [5, 0, 500.0]
    assert channel.loc["app", ["customers", "new_customers", "revenue"]].tolist() == [1, 1, 500.0]
    industry = frame[frame["dimension"] == "industry"].set_index("value")
    assert industry.loc["retail", "customers"] == 1 and industry.loc["", "customers"] == 5


def test_lifecycle_funnel_counts_reached_stages_and_conversion(small):
    frame = metrics.lifecycle_funnel(W).set_index("stage")
    assert frame["customers"].tolist() == [1, 1, 2, 1, 1]
    # reached: everyone 6; past prospect 5; bought 4; repeat 1 + churned customer 4 (two orders)
    assert frame["reached"].tolist() == [6, 5, 4, 2, 1]
    assert frame.loc["repeat", "conversion"] == pytest.approx(0.5)
    assert frame.loc["churned", "conversion"] == pytest.approx(0.25)
    assert frame.loc["prospect", "conversion"] is None or frame["conversion"].isna()["prospect"]


def test_cohort_retention(small):
    frame = metrics.cohort_retention(Filters(date(2025, 1, 1), date(2026, 6, 30)))
    rows = {(r.cohort_month.isoformat(), r.months_since): (r.customers, r.retention) for r in frame.itertuples()}
    # customer 1: first order January 2025, again April (15) and May (16) 2026; 5: March 2026; 2: May 2026
    assert rows == {
        ("2025-01-01", 0): (1, 1.0),
        ("2025-01-01", 15): (1, 1.0),
        ("2025-01-01", 16): (1, 1.0),
        ("2026-03-01", 0): (1, 1.0),
        ("2026-05-01", 0): (1, 1.0),
    }


def test_home_kpis_use_the_same_definitions(small):
    k = metrics.home_kpis()
    # new this month (June 2026): nobody; active in the last 90 days (2026-04-02..06-30): 1, 2, 3;
    # revenue 2025-07-01..2026-06-30: 1000 in W plus customer 5's 50 on 2026-03-31
    assert k == {"customers": 6, "new_this_month": 0, "active_customers": 3, "revenue_12m": 1050.0}


def test_refresh_is_idempotent_and_safe_on_an_empty_warehouse(warehouse_path):
    first = aggregates.refresh()
    assert first["customers"] == 0
    assert metrics.kpis(W)["customers"]["value"] == 0
    fixture.build()
    before = metrics.kpi_details(W)
    aggregates.refresh()
    assert metrics.kpi_details(W) == before


def test_refresh_keeps_the_aggregates_and_every_cache_when_nothing_they_count_changed(small):
    built = aggregates.refresh(force=True)
    assert built["rebuilt"] is True
    version = warehouse.data_version()
    kept = aggregates.refresh()
    assert kept["rebuilt"] is False and kept["refreshed_at"] == built["refreshed_at"]
    assert warehouse.data_version() == version  # no write: the pages' caches stay
    revenue = metrics.kpis(W)["revenue"]["value"]

    # any change to a row they count is seen: here one order's refund, a column of one row
    with warehouse.transaction() as tx:
        order = tx.scalar("SELECT min(order_id) FROM orders WHERE status = 'paid' AND order_time >= :d", d=fixture.W[0])
        amount = tx.scalar("SELECT amount FROM orders WHERE order_id = :o", o=order)
        tx.run("UPDATE orders SET status = 'refunded', refund_amount = amount WHERE order_id = :o", o=order)
    again = aggregates.refresh()
    assert again["rebuilt"] is True
    assert metrics.kpis(W)["revenue"]["value"] == pytest.approx(revenue - float(amount))
    assert aggregates.refresh()["rebuilt"] is False
    assert aggregates.refresh(force=True)["rebuilt"] is True


def test_refresh_rebuilds_when_the_masks_base_month_moves(small, monkeypatch):
    aggregates.refresh()
    later = aggregates.add_months(settings.as_of(), 3)
    monkeypatch.setattr(aggregates.settings, "as_of", lambda: later)
    meta = aggregates.refresh()
    assert meta["rebuilt"] is True and meta["base_month"] == aggregates.base_month_for(later)


WINDOWS = [
    (date(2026, 4, 1), date(2026, 6, 30)),
    (date(2026, 4, 16), date(2026, 5, 19)),
    (date(2026, 5, 6), date(2026, 5, 6)),
    (date(2025, 1, 10), date(2026, 4, 15)),
    (date(2025, 12, 31), date(2026, 3, 31)),
    (date(2024, 11, 30), date(2026, 6, 29)),
    (date(2026, 5, 7), date(2026, 6, 30)),
    (date(2025, 2, 1), date(2025, 2, 1)),
    # whole calendar months (no edge months are read) and half-aligned ranges
    (date(2026, 5, 1), date(2026, 5, 31)),
    (date(2025, 6, 1), date(2026, 5, 31)),
    (date(2026, 5, 1), date(2026, 5, 20)),
    (date(2026, 4, 10), date(2026, 5, 31)),
    (date(2026, 3, 1), date(2026, 6, 12)),
]


def test_aggregates_agree_with_raw_sql_over_the_source_tables(small):
    """Edge months, single days, windows crossing years, filters: same counts as raw SQL."""
    from bench import raw_sql

    con = warehouse.engine().raw_connection()
    try:
        for start, end in WINDOWS:
            for dims in ({}, {"channel": ("web",)}, {"customer_type": ("B2B",)}):
                f = Filters(start, end, **dims)
                got = metrics.kpi_details(f)
                prm = raw_sql.params(start, end, settings.get("churn_window_days"), f.dims())
                cur = con.driver_connection.execute(raw_sql.KPIS, raw_sql.used(raw_sql.KPIS, prm))
                want = dict(zip([c[0] for c in cur.description], cur.fetchone()))
                assert {k: float(got[k]) for k in want} == {k: float(v) for k, v in want.items()}, (start, end, dims)
    finally:
        con.close()


def _raw(con, sql: str, prm: dict) -> list[dict]:
    from bench import raw_sql

    cur = con.driver_connection.execute(sql, raw_sql.used(sql, prm))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def test_trends_breakdowns_funnel_and_cohorts_agree_with_raw_sql(small):
    """The single-window Overview queries, on the same windows and filters as the KPIs."""
    from bench import raw_sql

    con = warehouse.engine().raw_connection()
    try:
        for start, end in WINDOWS:
            for dims in ({}, {"channel": ("web",)}):
                f = Filters(start, end, **dims)
                prm = raw_sql.params(start, end, settings.get("churn_window_days"), f.dims())
                where = (start, end, dims)
                monthly = metrics.monthly_trends(f)
                want = _raw(con, raw_sql.MONTHLY, prm)
                assert [(r["month"], r["new_customers"], r["active_customers"], float(r["revenue"])) for r in want] == [
                    (r.month, r.new_customers, r.active_customers, r.revenue) for r in monthly.itertuples()
                ], where
                got = metrics.breakdowns(f)
                got = got[got["dimension"] == "channel"]
                want = [r for r in _raw(con, raw_sql.BREAKDOWN_CHANNEL, prm) if r["customers"] or r["revenue"]]
                assert sorted(
                    (r["channel"], r["customers"], r["new_customers"], float(r["revenue"])) for r in want
                ) == sorted((r.value, r.customers, r.new_customers, r.revenue) for r in got.itertuples()), where
                funnel = metrics.lifecycle_funnel(f).set_index("stage")["customers"].to_dict()
                for r in _raw(con, raw_sql.LIFECYCLE, prm):
                    assert funnel.get(r["stage"], 0) == r["customers"], where
                cohorts = metrics.cohort_retention(f)
                assert [
                    (r["cohort_month"], r["months_since"], r["customers"]) for r in _raw(con, raw_sql.COHORTS, prm)
                ] == [(r.cohort_month, r.months_since, r.customers) for r in cohorts.itertuples()], where
    finally:
        con.close()


def test_home_kpis_agree_with_the_overview_kpis(small):
    for as_of in (date(2026, 6, 30), date(2026, 6, 12), date(2026, 5, 1)):
        home = metrics.home_kpis(as_of)
        days = int(settings.get("active_window_days"))
        month = metrics.kpis(Filters(as_of.replace(day=1), as_of))
        active = metrics.kpis(Filters(as_of - timedelta(days=days - 1), as_of))
        year = metrics.kpis(Filters(as_of - timedelta(days=364), as_of))
        assert home == {
            "customers": month["customers"]["value"],
            "new_this_month": month["new_customers"]["value"],
            "active_customers": active["active"]["value"],
            "revenue_12m": year["revenue"]["value"],
        }, as_of


def test_overview_reads_every_figure_in_one_snapshot(small):
    both = metrics.overview(W)
    assert both["kpis"] == metrics.kpis(W)
    assert both["monthly"].equals(metrics.monthly_trends(W))
    assert both["breakdowns"].equals(metrics.breakdowns(W))
    assert both["funnel"].equals(metrics.lifecycle_funnel(W))
    assert both["cohorts"].equals(metrics.cohort_retention(W))


def test_a_snapshot_does_not_see_writes_committed_after_it_started(small):
    before = metrics.kpis(W)["customers"]["value"]
    with warehouse.snapshot():
        assert metrics.kpis(W)["customers"]["value"] == before
        with warehouse.transaction() as tx:  # another connection commits meanwhile
            tx.run("UPDATE agg_month SET new_customers = new_customers + 100 WHERE seg = 0")
        assert metrics.kpis(W)["customers"]["value"] == before
    assert metrics.kpis(W)["customers"]["value"] > before  # seen once the block ends
