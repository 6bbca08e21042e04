"""A representative import round trip on a lake: customers, then their orders, then a re-run."""

from __future__ import annotations

from lib.security import auth
from lib.stewardship import importer
from lib.core import warehouse

CUSTOMERS = """customer_id,name,mobile,email,gender,city,channel,registered_at
K1,王芳,13812345678,wang@example.com,F,深圳市,web,2025-03-01
K2,李娜,13912345678,li@example.com,F,北京市,app,2025-04-02
K3,Anna Smith,,anna@example.com,F,上海市,store,2025-05-03
K4,,,,,,,
"""
ORDERS = """order_id,customer_id,order_time,status,amount
O1,K1,2025-06-01 10:00:00,paid,120.50
O2,K1,2025-07-01 10:00:00,paid,80.00
O3,K2,2025-06-15 12:00:00,refunded,60.00
O4,K9,2025-06-15 12:00:00,paid,10.00
"""


def test_customers_and_orders_import_and_reimport_on_a_lake(lake_spec, tmp_path, users):
    steward = users["steward"]
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")

    first = importer.import_file(steward, "customers", tmp_path / "customers.csv", "crm")
    assert (first.rows_total, first.rows_loaded, first.rows_quarantined) == (4, 3, 1)
    orders = importer.import_file(steward, "orders", tmp_path / "orders.csv", "shop", customer_source="crm")
    assert (orders.rows_loaded, orders.rows_quarantined) == (3, 1)  # K9 is unknown

    again = importer.import_file(steward, "customers", tmp_path / "customers.csv", "crm")
    assert (again.rows_loaded, again.rows_unchanged) == (0, 3)
    assert warehouse.scalar("SELECT count(*) FROM customers") == 3
    assert warehouse.read("SELECT source_record_id, full_name FROM customers ORDER BY 1").values.tolist() == [
        ["K1", "王芳"],
        ["K2", "李娜"],
        ["K3", "Anna Smith"],
    ]
    assert warehouse.scalar("SELECT sum(amount) FROM orders") == 260.50
    ids = warehouse.one("SELECT count(*) AS n, count(DISTINCT import_id) AS d FROM imports")
    assert ids == {"n": 3, "d": 3}
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'import.run'") == 3
    assert auth.can(steward, "import_data")
