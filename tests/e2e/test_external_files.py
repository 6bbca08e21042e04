"""End to end on files the app did not generate (issue #14): an Australian customer list with
Latin names, birth dates and addresses but no phone, no email and no registration dates, and
a purchase history with only customer id, date, amount and quantity. Everything runs through
the CLI as a new user would: import both, `dedup run`, `churn train`, `clv score`.

The customer file: 300 people (given name, surname, birth date, street, city, state, a
4-digit postcode, country AU), plus 12 second records of the first 12 people under new ids
(given name and surname swapped, or a one-letter typo in the surname). Purchases: each of the
300 first buys on a day in January-June 2024, then every 10-60 days until they stop (each
purchase is the last with probability 0.2), up to 2025-12-31; nobody buys under the second id.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from lib import cli
from lib.core import warehouse

pytestmark = pytest.mark.slow

AS_OF = "2025-12-31"
GIVEN = [
    "Olivia",
    "Jack",
    "Charlotte",
    "William",
    "Amelia",
    "Noah",
    "Isla",
    "Thomas",
    "Mia",
    "James",
    "Grace",
    "Lucas",
    "Chloe",
    "Henry",
    "Ruby",
    "Oliver",
    "Zoe",
    "Ethan",
    "Lily",
    "Liam",
]
FAMILY = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Johnson",
    "White",
    "Martin",
    "Anderson",
    "Thompson",
    "Nguyen",
    "Thomas",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Robinson",
    "Kelly",
    "King",
]
PLACES = [
    ("Sydney", "NSW", "2000"),
    ("Parramatta", "NSW", "2150"),
    ("Melbourne", "VIC", "3000"),
    ("Geelong", "VIC", "3220"),
    ("Brisbane", "QLD", "4000"),
    ("Perth", "WA", "6000"),
    ("Adelaide", "SA", "5000"),
    ("Hobart", "TAS", "7000"),
    ("Darwin", "NT", "0800"),
]
STREETS = ["George St", "Collins St", "Queen St", "Hay St", "King William St", "Elizabeth St"]
# Orders only, no events, no demographics but birth dates: these carry no information.
DROPPED = [
    "refund_ratio",
    "categories",
    "browse_30d",
    "browse_90d",
    "carts_90d",
    "complaints_365d",
    "consults_365d",
    "returns_365d",
    "days_since_event",
    "channel",
    "customer_type",
    "gender",
]


def _files(folder):
    rng = np.random.default_rng(14)
    people = []
    for i in range(300):
        city, state, postcode = PLACES[i % len(PLACES)]
        people.append(
            {
                "customer_id": f"AU{i + 1:05d}",
                "given_name": GIVEN[i % 20],
                "surname": FAMILY[(i * 7 + i // 20) % 20],
                "date_of_birth": (datetime(1950, 1, 1) + timedelta(days=int(rng.integers(0, 18000)))).strftime(
                    "%Y-%m-%d"
                ),
                "street": f"{int(rng.integers(1, 400))} {STREETS[i % len(STREETS)]}",
                "city": city,
                "state": state,
                "postcode": postcode,
                "country": "AU",
            }
        )
    for k in range(12):  # second records of the first 12 people
        twin = dict(people[k], customer_id=f"AU9{k + 1:04d}")
        if k % 2:
            twin["given_name"], twin["surname"] = twin["surname"], twin["given_name"]
        else:
            twin["surname"] = twin["surname"][:-1] + ("e" if twin["surname"][-1] != "e" else "a")
        people.append(twin)
    orders, first = [], {}
    for i in range(300):
        when = datetime(2024, 1, 1, 9) + timedelta(days=int(rng.integers(0, 182)), minutes=int(rng.integers(0, 600)))
        first[f"AU{i + 1:05d}"] = when
        while when <= datetime(2025, 12, 31, 23):
            orders.append(
                {
                    "order_id": f"S{len(orders) + 1:06d}",
                    "customer_id": f"AU{i + 1:05d}",
                    "order_date": when.strftime("%Y-%m-%d %H:%M:%S"),
                    "amount": f"{rng.integers(1500, 25000) / 100:.2f}",
                    "quantity": int(rng.integers(1, 5)),
                }
            )
            if rng.random() < 0.2:
                break
            when += timedelta(days=int(rng.integers(10, 61)))
    c_path, o_path = folder / "customers_au.csv", folder / "purchases.csv"
    pd.DataFrame(people).to_csv(c_path, index=False)
    pd.DataFrame(orders).to_csv(o_path, index=False)
    return c_path, o_path, first


def _cli(path, capsys, *args) -> tuple[int, str]:
    code = cli.main(["--warehouse", str(path), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture(scope="module")
def run(tmp_path_factory, template_warehouse):
    """The whole pipeline once; each step's exit code and output, for the tests below."""
    folder = tmp_path_factory.mktemp("external")
    path = folder / "warehouse.duckdb"
    shutil.copyfile(template_warehouse, path)
    c_path, o_path, first = _files(folder)
    capsys = _Capture()
    steps = {}
    with capsys:
        steps["customers"] = _cli(
            path, capsys, "import", "customers", str(c_path), "--source", "partner_au", "--no-dedup"
        )
        warehouse.use(str(path))
        steps["registered_after_customers"] = warehouse.scalar(
            "SELECT count(*) FROM customers WHERE registered_at IS NOT NULL"
        )
        warehouse.dispose()
        steps["orders"] = _cli(path, capsys, "import", "orders", str(o_path), "--source", "partner_au")
        steps["dedup"] = _cli(path, capsys, "dedup", "run")
        steps["churn"] = _cli(path, capsys, "churn", "train", "--as-of", AS_OF, "--horizon-days", "90")
        steps["clv"] = _cli(
            path, capsys, "clv", "score", "--as-of", AS_OF, "--horizon-days", "180", "--out", str(folder / "clv.csv")
        )
    warehouse.use(str(path))
    yield {"path": path, "first": first, "steps": steps, "clv_csv": folder / "clv.csv"}
    warehouse.dispose()
    warehouse.use(None)


class _Capture:
    """capsys for a module-scoped fixture: stdout and stderr of the in-process CLI calls."""

    def __enter__(self):
        import contextlib
        import io

        self._out, self._err = io.StringIO(), io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._out))
        self._stack.enter_context(contextlib.redirect_stderr(self._err))
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def readouterr(self):
        out, err = self._out.getvalue(), self._err.getvalue()
        self._out.seek(0), self._out.truncate(), self._err.seek(0), self._err.truncate()
        return type("Captured", (), {"out": out, "err": err})()


def _result(step) -> dict:
    code, out = step
    assert code == 0, out
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def test_the_customer_file_without_contacts_loads_with_no_quarantine(run):
    r = _result(run["steps"]["customers"])
    assert (r["rows_total"], r["rows_loaded"], r["rows_quarantined"]) == (312, 312, 0)
    assert warehouse.scalar("SELECT count(*) FROM quarantine") == 0
    row = warehouse.one(
        "SELECT given_name, family_name, country, province, postcode, city FROM customers "
        "WHERE source_record_id = 'AU00009'"
    )
    assert row == {
        "given_name": "Mia",
        "family_name": "Ryan",
        "country": "AU",
        "province": "NT",
        "postcode": "0800",
        "city": "Darwin",
    }  # a 4-digit postcode, leading zero kept


def test_registration_dates_are_unknown_then_inferred_equal_to_the_first_order(run):
    assert run["steps"]["registered_after_customers"] == 0  # not "today"
    assert _result(run["steps"]["orders"])["rows_quarantined"] == 0
    got = warehouse.read("SELECT source_record_id, registered_at, registered_inferred FROM customers")
    got = got.set_index("source_record_id")
    buyers = got.loc[list(run["first"])]
    assert buyers["registered_inferred"].all()
    assert {k: v.to_pydatetime() for k, v in buyers["registered_at"].items()} == run["first"]
    never = got.drop(index=list(run["first"]))  # the 12 second records: no orders
    assert len(never) == 12 and never["registered_at"].isna().all() and not never["registered_inferred"].any()


def test_matching_runs_on_names_birth_dates_and_addresses_alone(run):
    code, out = run["steps"]["dedup"]
    assert code == 0, out
    assert warehouse.scalar("SELECT records FROM dedup_runs WHERE mode = 'full'") == 312
    found = warehouse.read(
        "SELECT l.source_record_id AS a, r.source_record_id AS b FROM dedup_candidates d "
        "JOIN customers l ON l.customer_id = d.customer_id_l JOIN customers r ON r.customer_id = d.customer_id_r"
    )
    pairs = {tuple(sorted(p)) for p in zip(found["a"], found["b"])}
    planted = {(f"AU{k + 1:05d}", f"AU9{k + 1:04d}") for k in range(12)}
    assert len(planted & pairs) >= 10  # swapped names and a one-letter typo, same birth date and street


def test_churn_trains_on_the_orders_and_names_the_features_it_dropped(run):
    code, out = run["steps"]["churn"]
    assert code == 0, out
    assert (
        "  note: Dropped 12 feature(s) that are empty or constant in the training rows: " + ", ".join(DROPPED) + "."
    ) in out.splitlines()
    metrics = json.loads(warehouse.scalar("SELECT CAST(metrics AS VARCHAR) FROM churn_models"))
    assert metrics["dropped_features"] == DROPPED
    assert "age" in metrics["features"] and "tenure_days" in metrics["features"]
    assert warehouse.scalar("SELECT n_train FROM churn_models") == 300


def test_clv_scores_every_purchaser(run):
    code, out = run["steps"]["clv"]
    assert code == 0, out
    scores = pd.read_csv(run["clv_csv"], dtype={"source_record_id": str})
    assert len(scores) == 300 and set(scores["source"]) == {"partner_au"}
    assert set(scores["source_record_id"]) == set(run["first"])
    assert scores["expected_value"].notna().all() and (scores["p_alive"].between(0, 1)).all()
