"""Issue #14 items 3 and 5: unknown registration dates are inferred from the first activity,
and churn trains on a warehouse of orders alone (empty features dropped and named; a horizon
too long for the history gets a message naming one that works)."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lib.security import auth
from lib.marketing import churn, rfm
from lib.dashboards import customers
from lib.stewardship import registration
from lib.core import warehouse
from lib.stewardship import importer
from tests import factories as f

# ---------------------------------------------------------------- registration dates

CUSTOMERS_CSV = """id,name,email,registered
A1,Anna Smith,anna@example.com,
A2,Ben Jones,ben@example.com,
A3,Cara Lee,cara@example.com,2021-03-04 10:00:00
A4,Dan Brown,dan@example.com,
"""
ORDERS_CSV = """order_id,customer_id,date,amount,status
O1,A1,2022-05-10 12:00:00,30.00,paid
O2,A1,2022-02-01 09:30:00,15.00,cancelled
O3,A2,2023-01-15 08:00:00,20.00,paid
O4,A3,2022-06-01 10:00:00,10.00,paid
"""
EVENTS_CSV = """event_id,customer_id,type,time
E1,A2,browse,2022-12-31 23:00:00
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _registrations() -> dict[str, tuple]:
    rows = warehouse.read(
        "SELECT source_record_id, registered_at, registered_inferred FROM customers ORDER BY source_record_id"
    )
    return {
        r.source_record_id: (
            None if pd.isna(r.registered_at) else r.registered_at.to_pydatetime(),
            bool(r.registered_inferred),
        )
        for r in rows.itertuples()
    }


def test_a_missing_registration_date_is_stored_as_unknown_not_as_today(warehouse_path, tmp_path, users):
    importer.import_file(
        users["steward"], "customers", _write(tmp_path, "c.csv", CUSTOMERS_CSV), "shop", match_duplicates=False
    )
    assert _registrations() == {
        "A1": (None, False),
        "A2": (None, False),
        "A3": (datetime(2021, 3, 4, 10), False),
        "A4": (None, False),
    }


def test_unknown_dates_are_inferred_from_the_first_order_or_event_and_marked(warehouse_path, tmp_path, users):
    steward = users["steward"]
    importer.import_file(steward, "customers", _write(tmp_path, "c.csv", CUSTOMERS_CSV), "shop", match_duplicates=False)
    importer.import_file(steward, "orders", _write(tmp_path, "o.csv", ORDERS_CSV), "shop")
    assert _registrations() == {
        "A1": (datetime(2022, 2, 1, 9, 30), True),  # the cancelled order came first: still activity
        "A2": (datetime(2023, 1, 15, 8), True),
        "A3": (datetime(2021, 3, 4, 10), False),  # given by the file: never changed
        "A4": (None, False),  # no activity yet: still unknown
    }
    importer.import_file(steward, "events", _write(tmp_path, "e.csv", EVENTS_CSV), "shop")
    assert _registrations()["A2"] == (datetime(2022, 12, 31, 23), True)  # an earlier event arrived
    audit = warehouse.read(
        "SELECT username, CAST(detail AS VARCHAR) AS detail FROM audit_log "
        "WHERE action = 'registration.infer' ORDER BY audit_id"
    )
    assert audit["username"].tolist() == ["steward", "steward"]
    assert audit["detail"].tolist() == [
        '{"changed": 2, "inferred": 2, "unknown": 1}',
        '{"changed": 1, "inferred": 2, "unknown": 1}',
    ]


def test_the_cli_infers_dates_of_a_warehouse_filled_by_other_means(warehouse_path, capsys):
    from lib import cli

    with warehouse.transaction() as tx:
        f.customer(tx, 1, registered_at=None)
        f.customer(tx, 2, registered_at=None)
        f.order(tx, 1, datetime(2025, 3, 1, 8), 10.0, with_event=False)
    assert cli.main(["--warehouse", str(warehouse_path), "registration", "infer"]) == 0
    assert capsys.readouterr().out.strip() == (
        "registration dates: 1 set now; 1 inferred from first activity, 1 still unknown (no order or event yet)"
    )
    warehouse.use(str(warehouse_path))
    assert warehouse.scalar("SELECT registered_at FROM customers WHERE customer_id = 1") == datetime(2025, 3, 1, 8)


def test_as_of_models_count_customers_whose_dates_were_inferred(warehouse_path, tmp_path, users):
    importer.import_file(
        users["steward"], "customers", _write(tmp_path, "c.csv", CUSTOMERS_CSV), "shop", match_duplicates=False
    )
    importer.import_file(users["steward"], "orders", _write(tmp_path, "o.csv", ORDERS_CSV), "shop")
    # as of 2023-06-30 (long before "today"), A1, A2 and A3 are customers with purchases
    assert rfm.refresh(auth.SYSTEM, date(2023, 6, 30)) == 3


def test_the_360_page_says_a_date_is_inferred(warehouse_path):
    def t(key, **kw):
        return {"dash.c360.registered_inferred": "{date} (inferred)", "dash.c360.registered_unknown": "unknown"}[
            key
        ].format(**kw)

    at = datetime(2022, 2, 1, 9, 30)
    assert (
        customers.registration_label({"registered_at": at, "registered_inferred": True}, t)
        == "2022-02-01 09:30 (inferred)"
    )
    assert customers.registration_label({"registered_at": at, "registered_inferred": False}, t) == "2022-02-01 09:30"
    assert customers.registration_label({"registered_at": None, "registered_inferred": False}, t) == "unknown"


# ---------------------------------------------------------------- churn on orders alone

AS_OF = date(2026, 6, 30)
ORDERS_ONLY_DROPPED = [
    "refund_ratio",
    "categories",
    "browse_30d",
    "browse_90d",
    "carts_90d",
    "complaints_365d",
    "consults_365d",
    "returns_365d",
    "days_since_event",
    "age",
    "channel",
    "customer_type",
    "gender",
]


@pytest.fixture(scope="module")
def orders_only_template(tmp_path_factory, template_warehouse):
    """300 customers with no birth date, one channel, type and gender, no events, one category:
    first purchase in January 2025 (day cid % 30), then purchases every 10-60 days until they
    stop (each purchase is the last with probability 0.15), up to 2026-06-30. Dates inferred."""
    path = tmp_path_factory.mktemp("orders_only") / "warehouse.duckdb"
    shutil.copyfile(template_warehouse, path)
    warehouse.use(str(path))
    rng = np.random.default_rng(7)
    rows = []
    for cid in range(1, 301):
        when = datetime(2025, 1, 1, 10) + timedelta(days=cid % 30)
        while when < datetime(2026, 7, 1):
            rows.append((cid, when, float(rng.integers(20, 200))))
            if rng.random() < 0.15:
                break
            when += timedelta(days=int(rng.integers(10, 61)))
    orders = pd.DataFrame(rows, columns=["customer_id", "order_time", "amount"])
    try:
        with warehouse.transaction() as tx:
            for cid in range(1, 301):
                f.customer(tx, cid, registered_at=None, birth_date=None, gender=None)
            tx.register("fixture_orders", orders)
            tx.run(
                "INSERT INTO orders (order_id, customer_id, source, source_record_id, order_time,"
                " status, amount, refund_amount, channel, category)"
                " SELECT row_number() OVER (), customer_id, 'test', 'O' || row_number() OVER (),"
                " order_time, 'paid', amount, 0, 'web', 'apparel' FROM fixture_orders"
            )
            tx.unregister("fixture_orders")
            registration.infer(tx)
        warehouse.checkpoint()
    finally:
        warehouse.dispose()
        warehouse.use(None)
    return path


@pytest.fixture
def orders_only(orders_only_template, warehouse_path):
    warehouse.dispose()
    shutil.copyfile(orders_only_template, warehouse_path)
    warehouse.use(str(warehouse_path))
    return warehouse_path


def test_churn_trains_on_orders_alone_and_names_the_features_it_dropped(orders_only):
    m = churn.train(auth.SYSTEM, AS_OF, 90, seed=0)
    assert m["dropped_features"] == ORDERS_ONLY_DROPPED
    assert m["notes"] == [
        "Dropped 13 feature(s) that are empty or constant in the training rows: " + ", ".join(ORDERS_ONLY_DROPPED) + "."
    ]
    assert m["features"] == [
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "orders_90d",
        "orders_prev_90d",
        "order_trend",
        "spend_365d",
        "tenure_days",
        "avg_gap_days",
    ]
    assert m["n_train"] == 300 and 0.5 < m["auc"] <= 1.0
    stored = churn.models().iloc[0]["metrics"]
    assert stored["dropped_features"] == ORDERS_ONLY_DROPPED and stored["notes"] == m["notes"]
    scored = churn.score(auth.SYSTEM, AS_OF, 90, model_id=m["model_id"])
    assert scored["scored"] == 300
    reasons = {r for rs in warehouse.read("SELECT reasons FROM churn_scores")["reasons"] for r in rs}
    assert reasons <= {"recency", "frequency", "spend", "declining", "tenure"}


def test_the_cli_prints_the_dropped_features(orders_only, capsys):
    from lib import cli

    assert (
        cli.main(["--warehouse", str(orders_only), "churn", "train", "--as-of", "2026-06-30", "--horizon-days", "90"])
        == 0
    )
    assert (
        "  note: Dropped 13 feature(s) that are empty or constant in the training rows: "
        + ", ".join(ORDERS_ONLY_DROPPED)
        + "."
    ) in capsys.readouterr().out.splitlines()


def test_a_horizon_too_long_for_the_history_names_one_that_works(orders_only):
    # 365 days: training would need purchases before 2024-07-01 (there are none). 270 days:
    # before 2025-01-07, i.e. the 60 customers whose first purchase is on 1-6 January
    # (cid % 30 in 0..5), and those 60 are a mix of churned and retained: it works.
    with pytest.raises(ValueError) as err:
        churn.train(auth.SYSTEM, AS_OF, 365, seed=0)
    message = str(err.value)
    assert message.startswith("Not enough purchase history for a 365-day churn horizon as of 2026-06-30: ")
    assert "purchases run from 2025-01-01 to " in message
    assert "0 purchasers before 2024-07-01" in message
    assert message.endswith("A 270-day horizon would work.")
    assert churn.train(auth.SYSTEM, AS_OF, 270, seed=0)["n_train"] == 60  # and it does


def test_an_as_of_date_past_the_data_names_the_last_purchase(orders_only):
    last = warehouse.scalar("SELECT CAST(max(order_time) AS DATE) FROM orders")
    with pytest.raises(ValueError) as err:
        churn.train(auth.SYSTEM, date(2030, 1, 1), 90, seed=0)
    assert str(err.value).endswith(f"The 90-day horizon works as of {last} (the last purchase).")


def test_the_suggested_survivor_of_a_pair_with_an_unknown_registration_date():
    from lib.stewardship import dedup

    known = {"customer_id": 7, "registered_at": datetime(2024, 5, 1)}
    unknown = {"customer_id": 3, "registered_at": None}
    assert dedup.suggested_survivor(unknown, known) == (known, unknown)
    assert dedup.suggested_survivor(known, unknown) == (known, unknown)
    other_unknown = {"customer_id": 9, "registered_at": None}
    assert dedup.suggested_survivor(other_unknown, unknown) == (unknown, other_unknown)
