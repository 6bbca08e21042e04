"""Hand-computable fixture for the stewards tests: one clean customer and one customer per
quality rule that fails exactly that rule (ids 2..26), plus a merged record that fails
everything and must be ignored. `EXPECTED[rule_id]` is the exact set of failing ids."""

from __future__ import annotations

from datetime import date, datetime

from lib.core import warehouse
from lib.admin import setting_changes
from tests import factories

AS_OF = "2026-11-01"  # stale_before = 2024-11-01 with the default 24 months


def _mobile(cid: int) -> str:
    return f"+86139{cid:04d}5{cid:03d}"


def base(cid: int) -> dict:
    return dict(
        full_name="张三",
        family_name="张",
        given_name="三",
        name_pinyin="zhang san|zs|zhangsan",
        mobile=_mobile(cid),
        email=f"user{cid}@example.com",
        birth_date=date(1990, 1, 1),
        address="科技园路1号",
        city="深圳市",
        postcode="518000",
        customer_type="B2C",
        registered_at=datetime(2024, 1, 1),
        updated_at=datetime(2026, 10, 1),
    )


CASES: dict[int, dict] = {
    2: dict(full_name=None, family_name=None, given_name=None, name_pinyin=None),
    3: dict(mobile=None, email=None),
    4: dict(birth_date=None),
    5: dict(address=None),
    6: dict(customer_type="B2B", company=None),
    7: dict(mobile="+8612633772910"),
    8: dict(email="a@@qq.com"),
    9: dict(postcode="5180"),
    10: dict(birth_date=date(2099, 1, 1)),
    11: dict(customer_type="B2B", company="深圳某某科技有限公司", uscc="123"),
    12: dict(raw_values='{"postcode": "5180"}'),
    13: dict(mobile="+8613911112222"),
    14: dict(mobile="+8613911112222"),
    15: dict(email="Dup@Example.com"),
    16: dict(email="dup@example.com"),
    17: dict(id_number_hash="h1", id_number_last4="0011"),
    18: dict(id_number_hash="h1", id_number_last4="0011"),
    19: dict(birth_date=date(2024, 6, 1)),
    20: dict(updated_at=datetime(2023, 12, 1)),
    21: dict(full_name="李四", family_name="李", given_name="四", name_pinyin=None),
    22: dict(),  # an order refunded beyond its amount
    23: dict(registered_at=datetime(2023, 1, 1), updated_at=datetime(2024, 6, 1)),
    24: dict(mobile="+8613800000000"),
    25: dict(email="x@qq.co"),
    26: dict(birth_date=date(1900, 6, 1)),
}

EXPECTED: dict[str, set[int]] = {
    "name_present": {2},
    "contact_present": {3},
    "birth_date_present": {4},
    "address_present": {5},
    "company_present": {6},
    "mobile_valid": {7},
    "email_valid": {8},
    "postcode_valid": {9},
    "birth_date_plausible": {10},
    "uscc_valid": {11},
    "import_value_rejected": {12},
    "mobile_unique": {13, 14},
    "email_unique": {15, 16},
    "id_number_unique": {17, 18},
    "born_before_registration": {19},
    "updated_after_registration": {20},
    "pinyin_present": {21},
    "refund_within_amount": {22},
    "not_stale": {20, 23},
    "mobile_not_placeholder": {24},
    "email_domain_plausible": {25},
    "age_plausible": {26},
}
LIVE = 26


def build() -> None:
    """Fill the current (empty, migrated) warehouse with the fixture."""
    setting_changes.put_system("data_as_of", AS_OF)
    with warehouse.transaction() as tx:
        factories.customer(tx, 1, **base(1))
        for cid, overrides in CASES.items():
            factories.customer(tx, cid, **{**base(cid), **overrides})
        factories.customer(tx, 27, **{**base(27), **CASES[2], "merged_into": 1})
        factories.order(
            tx, 22, datetime(2025, 5, 1), 40.0, refund=50.0, status="refunded", with_event=False, order_id=9001
        )
        factories.order(tx, 1, datetime(2025, 5, 1), 100.0, with_event=False, order_id=9002)


# ---------------------------------------------------------------- fast per-test warehouses
# Seeding the demo users hashes five bcrypt passwords (~3 s). The stewards tests build each
# template warehouse once per session and give every test its own copy of the file.

import os  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

_templates: dict[str, Path] = {}


def template(tmp_root: Path, name: str, with_fixture: bool) -> Path:
    if name not in _templates:
        from lib.security import auth

        path = tmp_root / f"{name}.duckdb"
        warehouse.use(str(path))
        warehouse.migrate()
        auth.seed_demo_users()
        if with_fixture:
            build()
        warehouse.checkpoint()
        warehouse.dispose()
        warehouse.use(None)
        _templates[name] = path
    return _templates[name]


def use_copy(src: Path, dest: Path) -> Path:
    shutil.copyfile(src, dest)
    warehouse.use(str(dest))
    os.environ["C360_WAREHOUSE"] = str(dest)
    return dest


def release() -> None:
    warehouse.dispose()
    warehouse.use(None)
    os.environ.pop("C360_WAREHOUSE", None)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def _stw_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stewards-templates")


@pytest.fixture
def stw_wh(_stw_root, tmp_path) -> Path:
    """A copy of a migrated warehouse with the demo users and the rule fixture."""
    path = use_copy(template(_stw_root, "fixture", True), tmp_path / "warehouse.duckdb")
    yield path
    release()


@pytest.fixture
def stw_empty(_stw_root, tmp_path) -> Path:
    """A copy of a migrated warehouse with the demo users and no customers."""
    path = use_copy(template(_stw_root, "empty", False), tmp_path / "warehouse.duckdb")
    yield path
    release()
