"""Unknown registration dates on a lake: migration 0015 applies there and the after-load
inference (UPDATE ... FROM) fills them from the first order (issue #14)."""

from __future__ import annotations

from datetime import datetime

from lib.stewardship import importer
from lib.core import warehouse

CUSTOMERS = """customer_id,name,email
R1,Anna Smith,anna@example.com
R2,Ben Jones,ben@example.com
"""
ORDERS = """order_id,customer_id,order_time,amount
P1,R1,2025-06-01 10:00:00,20.00
P2,R1,2025-05-01 09:00:00,10.00
"""


def test_registration_dates_are_inferred_on_a_lake(lake_spec, tmp_path, users):
    (tmp_path / "c.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "o.csv").write_text(ORDERS, encoding="utf-8")
    importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "crm", match_duplicates=False)
    importer.import_file(users["steward"], "orders", tmp_path / "o.csv", "crm")
    rows = warehouse.read("SELECT source_record_id, registered_at, registered_inferred FROM customers ORDER BY 1")
    assert rows["source_record_id"].tolist() == ["R1", "R2"]
    assert rows["registered_at"].iloc[0].to_pydatetime() == datetime(2025, 5, 1, 9)
    assert rows["registered_at"].isna().tolist() == [False, True]
    assert rows["registered_inferred"].tolist() == [True, False]
