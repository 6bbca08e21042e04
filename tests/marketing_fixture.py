"""A hand-computable marketing fixture (13 customers) and a shared small demo warehouse.

As of 2026-06-30, customers 1-10 have purchases chosen so that every RFM quintile can be
worked out on paper (see tests/unit/test_marketing_rfm.py for the arithmetic):

    id  recency  frequency  monetary   R  F  M  FM  segment
     1       5          6      3000    5  4  4   4  Champions
     2      10          1       100    5  1  1   1  New
     3      20          5      2500    4  4  4   4  Loyal
     4      40          2       400    4  1  2   2  Potential Loyalist
     5      60          4      1200    3  3  3   3  Need Attention
     6      90          3       900    3  3  3   3  Need Attention
     7     120          7      4900    2  5  5   5  Can't Lose Them
     8     200          2       300    2  1  1   1  Hibernating
     9     300          2       600    1  1  2   2  Hibernating
    10     400          8      8000    1  5  5   5  Can't Lose Them

Frequencies 2 (customers 4, 8, 9) span NTILE quintiles 1 and 2: ties share the lowest (1).
Noise that must be ignored: a cancelled order (2), an order after the as-of date (9), a
partially refunded order counted at its net value (5), customer 11 (no orders, a recent cart),
12 (merged into 1, with an order), 13 (no orders, an old consult).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lib.core import warehouse
from tests import factories as f
from tests.conftest import ROOT

AS_OF = date(2026, 6, 30)
TOTAL_REVENUE = 21900.0

#            id: (recency, frequency, monetary)
PURCHASES = {
    1: (5, 6, 3000),
    2: (10, 1, 100),
    3: (20, 5, 2500),
    4: (40, 2, 400),
    5: (60, 4, 1200),
    6: (90, 3, 900),
    7: (120, 7, 4900),
    8: (200, 2, 300),
    9: (300, 2, 600),
    10: (400, 8, 8000),
}
EXPECTED = {  # id: (R, F, M, segment)
    1: (5, 4, 4, "Champions"),
    2: (5, 1, 1, "New"),
    3: (4, 4, 4, "Loyal"),
    4: (4, 1, 2, "Potential Loyalist"),
    5: (3, 3, 3, "Need Attention"),
    6: (3, 3, 3, "Need Attention"),
    7: (2, 5, 5, "Can't Lose Them"),
    8: (2, 1, 1, "Hibernating"),
    9: (1, 1, 2, "Hibernating"),
    10: (1, 5, 5, "Can't Lose Them"),
}

# Profile fields for the segment builder and audiences.
PROFILES = {
    1: dict(
        gender="F",
        birth_date=date(1990, 7, 1),
        province="广东省",
        city="深圳市",
        channel="app",
        customer_type="B2C",
        mobile="+8613800000001",
        email="one@example.com",
    ),
    2: dict(
        gender="M",
        birth_date=date(1990, 6, 30),
        province="广东省",
        city="广州市",
        channel="web",
        customer_type="B2C",
        mobile="+8613800000002",
        email="two@example",
    ),  # bad email
    3: dict(
        gender="F",
        birth_date=date(1985, 1, 1),
        province="上海市",
        city="上海市",
        channel="store",
        customer_type="B2B",
        industry="Retail",
        mobile="+861380000003",
        email="three@example.com",
    ),  # bad mobile
    4: dict(
        gender="M",
        birth_date=None,
        province="北京市",
        city="北京市",
        channel="wechat",
        customer_type="B2C",
        mobile="+8613800000004",
        email="four@example.com",
    ),
    5: dict(
        gender="U",
        birth_date=date(2000, 1, 1),
        province="浙江省",
        city="杭州市",
        channel="web",
        customer_type="B2B",
        industry="Manufacturing",
        mobile="+8613800000005",
        email=None,
    ),
    6: dict(
        gender="F",
        birth_date=date(1970, 12, 31),
        province="广东省",
        city="深圳市",
        channel="app",
        customer_type="B2C",
        mobile=None,
        email="six@example.com",
    ),
    7: dict(
        gender="M",
        birth_date=date(1995, 5, 5),
        province=None,
        city=None,
        channel="store",
        customer_type="B2C",
        mobile="+447911123456",
        email="seven@example.co.uk",
    ),
    8: dict(
        gender="F",
        birth_date=date(1999, 9, 9),
        province="四川省",
        city="成都市",
        channel="web",
        customer_type="B2C",
        mobile="+8613800000008",
        email="eight@example.com",
    ),
    9: dict(
        gender="M",
        birth_date=date(1980, 3, 3),
        province="广东省",
        city="珠海市",
        channel="app",
        customer_type="B2C",
        mobile="+8613800000009",
        email="nine@example.com",
    ),
    10: dict(
        gender="F",
        birth_date=date(1975, 4, 4),
        province="江苏省",
        city="南京市",
        channel="store",
        customer_type="B2B",
        industry="Retail",
        mobile="+8613800000010",
        email="ten@example.com",
    ),
    11: dict(
        gender="M",
        birth_date=None,
        province="广东省",
        city="深圳市",
        channel="web",
        customer_type="B2C",
        mobile="+8613800000011",
        email="eleven@example.com",
    ),
    12: dict(
        gender="F",
        birth_date=None,
        province="广东省",
        city="深圳市",
        channel="web",
        customer_type="B2C",
        mobile="+8613800000012",
        email="twelve@example.com",
    ),
    13: dict(
        gender="U",
        birth_date=None,
        province="湖南省",
        city="长沙市",
        channel="wechat",
        customer_type="B2C",
        mobile="+8613800000013",
        email="thirteen@example.com",
    ),
}
# channel consents: (customer, channel, status, recorded) - the latest row per channel wins
CONSENTS = [
    (1, "sms", "granted", datetime(2024, 1, 1)),
    (1, "email", "granted", datetime(2024, 1, 1)),
    (2, "sms", "granted", datetime(2024, 1, 1)),
    (2, "email", "granted", datetime(2024, 1, 1)),
    (3, "sms", "granted", datetime(2024, 1, 1)),
    (3, "email", "granted", datetime(2024, 1, 1)),
    (4, "sms", "granted", datetime(2024, 1, 1)),
    (4, "sms", "withdrawn", datetime(2025, 1, 1)),
    (4, "email", "granted", datetime(2024, 1, 1)),
    (5, "sms", "withdrawn", datetime(2024, 1, 1)),
    (5, "sms", "granted", datetime(2025, 6, 1)),
    (5, "phone", "granted", datetime(2024, 1, 1)),
    (6, "sms", "granted", datetime(2024, 1, 1)),
    (6, "email", "granted", datetime(2024, 1, 1)),
    (7, "sms", "granted", datetime(2024, 1, 1)),
    (7, "phone", "granted", datetime(2024, 1, 1)),
    (10, "email", "granted", datetime(2024, 1, 1)),
    (10, "email", "withdrawn", datetime(2026, 1, 1)),
    (12, "sms", "granted", datetime(2024, 1, 1)),
]
# sms reachable (consent granted last AND valid mobile): 1, 2, 5, 7 (3 has a bad mobile,
# 4 withdrew, 6 has no mobile, 12 is merged). email reachable: 1, 3, 4, 6 (2 bad address,
# 10 withdrew). phone reachable: 5, 7.
SMS_REACHABLE = [1, 2, 5, 7]
EMAIL_REACHABLE = [1, 3, 4, 6]
PHONE_REACHABLE = [5, 7]


def at(days_before: int, hour: int = 10) -> datetime:
    return datetime.combine(AS_OF - timedelta(days=days_before), datetime.min.time()).replace(hour=hour)


def build() -> None:
    """Fill the current (empty, migrated) warehouse with the fixture."""
    with warehouse.transaction() as tx:
        for cid, profile in PROFILES.items():
            fields = dict(profile)
            fields["full_name"] = f"客户{cid}"
            fields["registered_at"] = datetime(2024, 1, 1)
            if cid == 12:
                fields["merged_into"] = 1
            f.customer(tx, cid, **fields)
        for cid, (recency, frequency, monetary) in PURCHASES.items():
            each = monetary / frequency
            for k in range(frequency):
                when = at(recency + 7 * k)
                if cid == 5 and k == 0:
                    f.order(tx, cid, when, each + 200, status="partially_refunded", refund=200)
                else:
                    f.order(tx, cid, when, each)
        f.order(tx, 2, at(3), 10000, status="cancelled")
        f.order(tx, 9, datetime(2026, 7, 5, 10), 999)  # after the as-of date
        f.order(tx, 12, at(1), 777)  # merged record
        f.event(tx, 11, "add_to_cart", at(10))
        f.event(tx, 13, "consult", at(200))
        f.event(tx, 10, "complaint", at(410))  # 10 days before 10's last purchase
        for cid, channel, status, when in CONSENTS:
            f.consent(tx, cid, channel, status, when)
        f.tag(tx, 1, "vip")
        f.tag(tx, 3, "vip")
        f.tag(tx, 3, "b2b-key")
        f.tag(tx, 7, "newsletter")


# ---------------------------------------------------------------- a small demo warehouse

DEMO_CUSTOMERS = 3000
DEMO_SEED = 11


def demo_copy(tmp_path_factory, dest: Path) -> Path:
    """Copy of a demo warehouse built once per test session (in a subprocess, so this
    process's warehouse pointer stays untouched)."""
    base = tmp_path_factory.getbasetemp() / "marketing-demo"
    built = base / "demo.duckdb"
    if not built.exists():
        base.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "lib.cli",
                "--warehouse",
                str(built),
                "demo",
                "--customers",
                str(DEMO_CUSTOMERS),
                "--seed",
                str(DEMO_SEED),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    shutil.copy(built, dest)
    wal = Path(str(built) + ".wal")
    if wal.exists():
        shutil.copy(wal, Path(str(dest) + ".wal"))
    return dest


def _empty(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    warehouse.use(str(path))
    os.environ["C360_WAREHOUSE"] = str(path)
    warehouse.migrate()
    return path


def _close() -> None:
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)


@pytest.fixture
def empty_wh(tmp_path):
    """An empty migrated warehouse without the demo logins: lib/ tests pass auth.User objects
    directly, and skipping the five bcrypt hashes saves seconds per test."""
    yield _empty(tmp_path)
    _close()


@pytest.fixture
def fresh_wh(tmp_path):
    """An empty migrated warehouse (no demo logins) holding the fixture above."""
    path = _empty(tmp_path)
    build()
    yield path
    _close()
