"""Import: mapping, normalisation, quarantine counts, idempotent re-import, orders/events links,
quarantine release, one transaction (never a partial write)."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from lib.security import auth, privacy
from lib import cli
from lib.stewardship import entry_rules, importer
from lib.core import i18n, validation, warehouse
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

MESSY = """客户编号,姓名,手机,邮箱,出生日期,身份证号,邮编,街道,门牌号,城市
A1,張偉,138 1234 5678,Zhang.Wei@Example.COM,1949/12/31,11010519491231002X,100000,科技园路,1号,北京
A2,李娜,+86 139-1234-5678,,1990.1.2,,51800,深南大道,2号,深圳
A3,,13712345678,,,,,,,
A4,王五,12345,,,,,,,
A5,Anna Smith,,anna@@x.com,2099-01-01,,,,,
A5,重复,13512345678,,,,,,,
A6,ＦＵＬＬ　Ｗｉｄｔｈ,１３６１２３４５６７８,,,,,,,
A7,赵六,13612345679,zhao@@qq.com,,,,,,
"""


def write(tmp_path, text: str, name: str = "messy.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(sql: str, **params) -> int:
    return int(warehouse.scalar(sql, **params))


def require_contact(user, *sources: str) -> None:
    """Entry rules of a source whose stewards want a valid mobile or email on every row (the
    built-in default only flags a missing contact): the quarantine tests below use them."""
    for source in sources:
        entry_rules.save(user, source, "customers", {"full_name": "quarantine", "contact": "quarantine"})


def test_suggested_mapping_reads_chinese_headers_and_joins_street_then_number():
    m = importer.suggest_mapping("customers", ["客户编号", "姓名", "手机", "邮箱", "门牌号", "街道", "Zip"])
    assert m == {
        "source_record_id": ["客户编号"],
        "full_name": ["姓名"],
        "mobile": ["手机"],
        "email": ["邮箱"],
        "address": ["街道", "门牌号"],
        "postcode": ["Zip"],
    }


# A shop's customer export as it comes (Shopify's columns): IDs and phones behind Excel's text
# apostrophe, the address under "Default Address ...", consent as yes/no per channel.
SHOP_EXPORT = """Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,\
Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,\
Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent
'7104356401234,Russell,Winfield,russel.winfield@example.com,no,Acme Ltd,105 Victoria St,Unit 2,Toronto,ON,CA,\
M5C1N7,'+16135550135,'+16135550135,yes,0.00
'7104356401235,Anna,Müller,anna.mueller@example.de,yes,,Hauptstraße 5,,Berlin,,DE,10115,,'030 123456,no,129.90
'7104356401236,Ayumi,Hirano,ayumi.hirano@example.jp,maybe,,1-2-3 Shibuya,,Tokyo,13,JP,150-0002,,,,45.00
"""


def test_a_shop_export_maps_its_qualified_headers_and_reads_each_row_in_its_country(stw_empty, tmp_path, users):
    frame = importer.read_table(write(tmp_path, SHOP_EXPORT, "customers_export.csv"))
    assert importer.suggest_mapping("customers", list(frame.columns)) == {
        "source_record_id": ["Customer ID"],
        "given_name": ["First Name"],
        "family_name": ["Last Name"],
        "email": ["Email"],
        "email_consent": ["Accepts Email Marketing"],
        "company": ["Default Address Company"],
        "address": ["Default Address Address1", "Default Address Address2"],
        "city": ["Default Address City"],
        "province": ["Default Address Province Code"],
        "country": ["Default Address Country Code"],
        "postcode": ["Default Address Zip"],
        "mobile": ["Phone"],  # the exact name wins over "Default Address Phone"
        "sms_consent": ["Accepts SMS Marketing"],
    }
    r = importer.import_file(
        users["steward"], "customers", tmp_path / "customers_export.csv", "shopify", match_duplicates=False
    )
    assert (r.rows_loaded, r.rows_quarantined) == (3, 0)
    rows = warehouse.records(
        "SELECT source_record_id, country, mobile, address, postcode FROM customers ORDER BY customer_id"
    )
    assert rows == [
        {
            "source_record_id": "7104356401234",  # without the apostrophe: orders refer to 7104356401234
            "country": "CA",
            "mobile": "+16135550135",
            "address": "105 Victoria St Unit 2",
            "postcode": "M5C1N7",
        },
        {
            "source_record_id": "7104356401235",
            "country": "DE",
            "mobile": "+4930123456",  # a German number, read in the row's country
            "address": "Hauptstraße 5",
            "postcode": "10115",
        },
        {
            "source_record_id": "7104356401236",
            "country": "JP",
            "mobile": None,
            "address": "1-2-3 Shibuya",
            "postcode": "150-0002",
        },
    ]
    assert any("apostrophe" in n and "Customer ID" in n for n in r.notes)


def test_a_customer_files_consent_columns_record_changes_to_the_consent_in_force(stw_empty, tmp_path, users):
    path = write(tmp_path, SHOP_EXPORT, "customers_export.csv")
    r = importer.import_file(users["steward"], "customers", path, "shopify", match_duplicates=False)
    consents = "SELECT c.source_record_id, k.channel, k.status, k.source, k.recorded_by, k.evidence FROM consents k JOIN customers c USING (customer_id) ORDER BY k.consent_id"
    assert warehouse.records(consents) == [
        {
            "source_record_id": "7104356401234",
            "channel": "sms",
            "status": "granted",
            "source": "import shopify",
            "recorded_by": "steward",
            "evidence": f"import {r.import_id}",
        },
        {
            "source_record_id": "7104356401235",
            "channel": "email",
            "status": "granted",
            "source": "import shopify",
            "recorded_by": "steward",
            "evidence": f"import {r.import_id}",
        },
    ]  # a "no" with nothing in force records nothing; "maybe" records nothing and is named
    assert r.consents_recorded == 2
    [unclear] = [n for n in r.notes if "Email consent (yes/no): 1 values are neither yes nor no (lines 4)" in n]
    try:  # the page shows the note in the reader's language, the field's name included
        i18n.set_language("zh")
        assert (
            i18n.note_text(copy.deepcopy(unclear))
            == "邮件营销同意（是/否）：1 个值既不是“是”也不是“否”（第 4 行）：未为其记录授权。"
        )
    finally:
        i18n.set_language("en")
    audit = json.loads(warehouse.scalar("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'import.run'"))
    assert audit["consents_recorded"] == 2

    again = importer.import_file(users["steward"], "customers", path, "shopify", match_duplicates=False)
    assert (again.rows_unchanged, again.consents_recorded) == (3, 0)  # nothing changed, nothing written

    # the customer unsubscribes in the shop: the next export says no, and the grant is withdrawn
    write(
        tmp_path,
        SHOP_EXPORT.replace("anna.mueller@example.de,yes", "anna.mueller@example.de,no"),
        "customers_export.csv",
    )
    later = importer.import_file(users["steward"], "customers", path, "shopify", match_duplicates=False)
    assert later.consents_recorded == 1
    in_force = warehouse.records(
        "SELECT k.channel, k.status FROM consent_current k JOIN customers USING (customer_id) "
        "WHERE source_record_id = '7104356401235'"
    )
    assert in_force == [{"channel": "email", "status": "withdrawn"}]


# A shop's orders as exported: one row per line item, the order's total on its first line only,
# the customer named by email, times with their UTC offset.
SHOP_ORDERS = """Name,Email,Financial Status,Created at,Total,Lineitem quantity,Lineitem name,Lineitem price,Refunded Amount,Billing Name,Id
#1001,anna.mueller@example.de,paid,2026-01-15 10:32:11 +0100,129.90,2,Blue Mug,30.00,0.00,Anna Müller,5551234001
#1001,anna.mueller@example.de,,2026-01-15 10:32:11 +0100,,1,Teapot,40.00,,,5551234001
#1002,AYUMI.HIRANO@example.jp,partially_refunded,2026-02-01 11:59:00 +0900,45.00,1,Green Tea,45.00,10.00,Ayumi Hirano,5551234002
#1003,nobody@example.com,paid,2026-03-01 07:58:00 -0500,20.00,1,Spoon,20.00,0.00,No Body,5551234003
#1004,anna.mueller@example.de,voided,2026-03-02 07:58:00 -0500,20.00,1,Spoon,20.00,0.00,Anna Müller,5551234004
#1004,anna.mueller@example.de,voided,2026-03-02 07:58:00 -0500,25.00,1,Fork,25.00,0.00,,5551234004
"""

# A retailer's invoice lines (the UCI Online Retail layout): no total, price x quantity per line,
# American dates (13/12 cannot be a month, so the column is month first).
INVOICE_LINES = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
489434,85048,GLASS BALL 20 LIGHTS,12,12/1/2009 7:45,6.95,13085,United Kingdom
489434,79323P,PINK CHERRY LIGHTS,12,12/1/2009 7:45,6.75,13085,United Kingdom
489435,22350,CAT BOWL,12,12/13/2009 17:46,2.55,13085,United Kingdom
C489449,22087,PAPER BUNTING,-12,12/14/2009 10:33,2.95,13085,United Kingdom
"""


def test_a_shops_order_lines_load_as_orders_of_the_customers_named_by_email(stw_empty, tmp_path, users):
    importer.import_file(
        users["steward"], "customers", write(tmp_path, SHOP_EXPORT, "c.csv"), "shopify", match_duplicates=False
    )
    r = importer.import_file(users["steward"], "orders", write(tmp_path, SHOP_ORDERS, "o.csv"), "shopify")
    orders = warehouse.records(
        "SELECT o.source_record_id, c.source_record_id AS customer, o.order_time, o.status, "
        "CAST(o.amount AS VARCHAR) AS amount, CAST(o.refund_amount AS VARCHAR) AS refund, o.item_count "
        "FROM orders o JOIN customers c USING (customer_id) ORDER BY o.order_time"
    )
    assert orders == [
        {
            "source_record_id": "5551234001",
            "customer": "7104356401235",  # anna.mueller@example.de
            "order_time": datetime(2026, 1, 15, 10, 32, 11),  # the clock the export showed
            "status": "paid",
            "amount": "129.90",  # the order's total, given on its first line
            "refund": "0.00",
            "item_count": 3,  # 2 mugs and a teapot
        },
        {
            "source_record_id": "5551234002",
            "customer": "7104356401236",  # the email matched whatever its case
            "order_time": datetime(2026, 2, 1, 11, 59),
            "status": "partially_refunded",
            "amount": "45.00",
            "refund": "10.00",
            "item_count": 1,
        },
    ]
    reasons = [
        (q["source_record_id"], [x["code"] for x in json.loads(q["reasons"])])
        for q in warehouse.records(
            "SELECT source_record_id, CAST(reasons AS VARCHAR) AS reasons FROM quarantine ORDER BY row_no"
        )
    ]
    # the lines of the file they are on (the header is line 1; #1001 takes lines 2 and 3)
    assert [q["row_no"] for q in warehouse.records("SELECT row_no FROM quarantine ORDER BY row_no")] == [5, 6, 7]
    # an unknown email; an order whose two lines give different totals: no part of it loads
    assert reasons == [
        ("5551234003", ["customer_key.unknown"]),
        ("5551234004", ["order.lines_disagree"]),
        ("5551234004", ["duplicate_in_file", "order.lines_disagree"]),
    ]
    assert (r.rows_total, r.rows_loaded, r.rows_quarantined) == (5, 2, 3)
    assert any("2 rows were the lines of 1 order" in n for n in r.notes)
    assert any("1 orders have rows that disagree" in n for n in r.notes)


def test_invoice_lines_without_a_total_add_up_price_times_quantity(stw_empty, tmp_path, users):
    importer.import_file(
        users["steward"],
        "customers",
        write(tmp_path, "Customer ID,Name\n13085,C 13085\n", "c.csv"),
        "retail",
        match_duplicates=False,
    )
    r = importer.import_file(users["steward"], "orders", write(tmp_path, INVOICE_LINES, "o.csv"), "retail")
    assert warehouse.records(
        "SELECT source_record_id, order_time, CAST(amount AS VARCHAR) AS amount, item_count FROM orders ORDER BY 1"
    ) == [
        {
            "source_record_id": "489434",
            "order_time": datetime(2009, 12, 1, 7, 45),
            "amount": "164.40",
            "item_count": 24,
        },
        {
            "source_record_id": "489435",
            "order_time": datetime(2009, 12, 13, 17, 46),
            "amount": "30.60",
            "item_count": 12,
        },
    ]
    # a cancellation invoice (negative quantity) is refused with its reason, not loaded as a sale
    assert warehouse.scalar("SELECT source_record_id FROM quarantine") == "C489449"
    assert "number.negative" in warehouse.scalar("SELECT CAST(reasons AS VARCHAR) FROM quarantine")
    assert (r.rows_loaded, r.rows_quarantined) == (2, 1)


def test_an_orders_only_file_creates_its_customers_when_asked(stw_empty, tmp_path, users):
    path = write(tmp_path, INVOICE_LINES, "o.csv")
    # the built-in rules require a name, which invoice lines do not have: refused before anything
    with pytest.raises(importer.ImportProblem, match="would have no Name.*--require full_name=flag"):
        importer.import_file(users["steward"], "orders", path, "retail", create_customers=True)
    assert count("SELECT count(*) FROM customers") + count("SELECT count(*) FROM orders") == 0
    entry_rules.save(users["steward"], "retail", "customers", {"full_name": "flag", "contact": "flag"})
    r = importer.import_file(users["steward"], "orders", path, "retail", create_customers=True)
    assert (r.customers_created, r.rows_loaded, r.rows_quarantined) == (1, 2, 1)
    customer = warehouse.one(
        "SELECT customer_id, source, source_record_id, full_name, country, registered_at, registered_inferred "
        "FROM customers"
    )
    assert customer == {
        "customer_id": customer["customer_id"],
        "source": "retail",
        "source_record_id": "13085",
        "full_name": None,
        "country": "GB",  # the file's "United Kingdom"
        "registered_at": datetime(2009, 12, 1, 7, 45),  # its first order
        "registered_inferred": True,
    }
    assert count("SELECT count(*) FROM orders WHERE customer_id = :c", c=customer["customer_id"]) == 2
    detail = json.loads(warehouse.scalar("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'import.run'"))
    assert detail["customers_created"] == 1
    again = importer.import_file(users["steward"], "orders", path, "retail", create_customers=True)
    assert (again.customers_created, again.rows_unchanged) == (0, 2)


def test_a_shops_orders_create_customers_with_the_name_and_email_they_give(stw_empty, tmp_path, users):
    r = importer.import_file(
        users["steward"], "orders", write(tmp_path, SHOP_ORDERS, "o.csv"), "shopify", create_customers=True
    )
    assert (r.customers_created, r.rows_loaded) == (3, 3)  # the voided order's lines disagree: none loads
    assert warehouse.records("SELECT source_record_id, full_name, email FROM customers ORDER BY customer_id") == [
        {"source_record_id": "anna.mueller@example.de", "full_name": "Anna Müller", "email": "anna.mueller@example.de"},
        {
            "source_record_id": "AYUMI.HIRANO@example.jp",
            "full_name": "Ayumi Hirano",
            "email": "AYUMI.HIRANO@example.jp",
        },
        {"source_record_id": "nobody@example.com", "full_name": "No Body", "email": "nobody@example.com"},
    ]


def test_a_quarantined_row_keeps_its_consent_answer_until_it_is_released(stw_empty, tmp_path, users):
    path = write(tmp_path, "Customer ID,First Name,Email,Accepts Email Marketing\n'42,,,yes\n", "c.csv")
    r = importer.import_file(users["steward"], "customers", path, "shopify", match_duplicates=False)
    assert (r.rows_quarantined, r.consents_recorded) == (1, 0)  # no name: quarantined, nothing granted
    qid = int(importer.quarantine(auth.SYSTEM).iloc[0]["quarantine_id"])
    new_id = importer.release(users["steward"], qid, {"full_name": "Li Lei", "email": "li.lei@example.com"})
    assert warehouse.records("SELECT customer_id, channel, status FROM consent_current") == [
        {"customer_id": new_id, "channel": "email", "status": "granted"}
    ]


def test_round_trip_with_exact_quarantine_and_flag_counts(stw_empty, tmp_path, users):
    require_contact(users["steward"], "partner_x")
    r = importer.import_file(users["steward"], "customers", write(tmp_path, MESSY), "partner_x", match_duplicates=False)
    assert (r.rows_total, r.rows_loaded, r.rows_unchanged, r.rows_quarantined, r.rows_flagged) == (8, 4, 0, 4, 2)
    rows = warehouse.read(
        "SELECT source_record_id, full_name, name_pinyin, mobile, email, birth_date, "
        "postcode, address, city, id_number_enc, id_number_hash, id_number_last4, "
        "CAST(raw_values AS VARCHAR) AS raw FROM customers ORDER BY source_record_id"
    )
    a1 = rows.iloc[0].to_dict()
    assert (a1["full_name"], a1["name_pinyin"], a1["mobile"], a1["email"]) == (
        "張偉",
        "zhang wei|zw|zhangwei",
        "+8613812345678",
        "Zhang.Wei@example.com",
    )
    assert (a1["address"], a1["postcode"], a1["id_number_last4"]) == ("科技园路1号", "100000", "002X")
    assert privacy.decrypt(a1["id_number_enc"]) == "11010519491231002X"
    assert a1["id_number_hash"] == privacy.id_hash("11010519491231002X")
    assert rows["source_record_id"].tolist() == ["A1", "A2", "A6", "A7"]
    assert rows.set_index("source_record_id").loc["A6", "full_name"] == "FULL Width"
    assert json.loads(rows.set_index("source_record_id").loc["A2", "raw"]) == {"postcode": "51800"}
    assert json.loads(rows.set_index("source_record_id").loc["A7", "raw"]) == {"email": "zhao@@qq.com"}
    reasons = warehouse.read("SELECT source_record_id, CAST(reasons AS VARCHAR) AS r FROM quarantine ORDER BY row_no")
    codes = {k: sorted(x["code"] for x in json.loads(r)) for k, r in zip(reasons["source_record_id"], reasons["r"])}
    assert list(reasons["source_record_id"]) == ["A3", "A4", "A5", "A5"]
    assert codes["A3"] == ["required.missing"]
    assert codes["A4"] == ["mobile.invalid", "required.contact"]
    flags = warehouse.read("SELECT rule_id FROM quality_flags WHERE kind = 'import' ORDER BY rule_id")
    assert flags["rule_id"].tolist() == ["import.email", "import.postcode"]
    imp = warehouse.one("SELECT rows_loaded, rows_quarantined, rows_flagged, status FROM imports")
    assert imp == {"rows_loaded": 4, "rows_quarantined": 4, "rows_flagged": 2, "status": "done"}
    assert count("SELECT count(*) FROM audit_log WHERE action = 'import.run'") == 1


def test_reimporting_the_same_file_adds_nothing(stw_empty, tmp_path, users):
    require_contact(users["steward"], "partner_x")
    path = write(tmp_path, MESSY)
    importer.import_file(users["steward"], "customers", path, "partner_x", match_duplicates=False)
    before = [count(f"SELECT count(*) FROM {t}") for t in ("customers", "quarantine", "quality_flags")]
    r = importer.import_file(users["steward"], "customers", path, "partner_x", match_duplicates=False)
    assert (r.rows_loaded, r.rows_unchanged, r.rows_quarantined) == (0, 4, 0)
    assert [count(f"SELECT count(*) FROM {t}") for t in ("customers", "quarantine", "quality_flags")] == before


def test_same_keys_from_another_source_are_new_records(stw_empty, tmp_path, users):
    require_contact(users["steward"], "crm", "shop")
    path = write(tmp_path, MESSY)
    importer.import_file(users["steward"], "customers", path, "crm", match_duplicates=False)
    r = importer.import_file(users["steward"], "customers", path, "shop", match_duplicates=False)
    assert r.rows_loaded == 4
    assert count("SELECT count(DISTINCT source) FROM customers") == 2


def test_orders_and_events_link_through_the_sources_customer_key(stw_empty, tmp_path, users):
    importer.import_file(users["steward"], "customers", write(tmp_path, MESSY), "shop", match_duplicates=False)
    orders = '订单号,会员编号,下单时间,金额,退款,状态\nO1,A1,2025-03-01 10:00,"¥1,299.00",0,已支付\nO2,A9,2025-03-02,50,,paid\nO3,A2,2025/3/3,80,100,refunded\nO4,A6,2025-03-04,abc,,paid\n'
    r = importer.import_file(users["steward"], "orders", write(tmp_path, orders, "o.csv"), "shop")
    assert (r.rows_loaded, r.rows_quarantined) == (1, 3)
    row = warehouse.one(
        "SELECT o.amount, o.status, c.source_record_id FROM orders o JOIN customers c USING (customer_id)"
    )
    assert (float(row["amount"]), row["status"], row["source_record_id"]) == (1299.0, "paid", "A1")
    reasons = warehouse.read(
        "SELECT source_record_id, CAST(reasons AS VARCHAR) AS r FROM quarantine WHERE kind = 'orders' ORDER BY row_no"
    )
    assert [json.loads(r)[0]["code"] for r in reasons["r"]] == [
        "customer_key.unknown",
        "refund.exceeds_amount",
        "number.invalid",
    ]
    events = "客户编号,行为,时间,订单号,备注\nA1,购买,2025-03-01 10:00,O1,\nA1,咨询,2025-03-05 09:00,,问尺码\nA1,咨询,2025-03-05 09:00,,问尺码\n"
    r = importer.import_file(users["steward"], "events", write(tmp_path, events, "e.csv"), "shop")
    assert (r.rows_loaded, r.rows_quarantined) == (2, 1)  # the exact repeat row is quarantined
    ev = warehouse.read(
        "SELECT event_type, order_id IS NOT NULL AS linked, coalesce(note, '-') AS note FROM events ORDER BY event_time"
    )
    assert ev.values.tolist() == [["purchase", True, "-"], ["consult", False, "问尺码"]]
    r = importer.import_file(users["steward"], "events", write(tmp_path, events, "e.csv"), "shop")
    assert r.rows_loaded == 0 and r.rows_unchanged == 2


def test_excel_files_and_a_saved_mapping_from_the_cli(stw_empty, tmp_path, capsys):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Member", "Surname", "Given", "Cell", "Street", "No."])
    ws.append(["M1", "王", "芳", 13812345670, "人民路", "8号"])
    ws.append(["M2", "Smith", "Anna", "+44 7911 123456", "High Street", "12"])
    wb.save(tmp_path / "members.xlsx")
    mapping = {
        "kind": "customers",
        "fields": {
            "source_record_id": ["Member"],
            "family_name": ["Surname"],
            "given_name": ["Given"],
            "mobile": ["Cell"],
            "address": ["No.", "Street"],
        },
    }
    (tmp_path / "m.json").write_text(json.dumps(mapping), encoding="utf-8")
    code = cli.main(
        [
            "--warehouse",
            str(stw_empty),
            "import",
            "customers",
            str(tmp_path / "members.xlsx"),
            "--source",
            "club",
            "--mapping",
            str(tmp_path / "m.json"),
            "--no-dedup",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out["rows_loaded"], out["rows_quarantined"]) == (2, 0)
    warehouse.use(str(stw_empty))
    rows = warehouse.read("SELECT full_name, mobile, address FROM customers ORDER BY source_record_id")
    assert rows.values.tolist() == [
        ["王芳", "+8613812345670", "8号人民路"],
        ["Anna Smith", "+447911123456", "12 High Street"],
    ]


def test_a_quarantined_row_is_fixed_and_released(stw_empty, tmp_path, users):
    require_contact(users["steward"], "partner_x")
    importer.import_file(users["steward"], "customers", write(tmp_path, MESSY), "partner_x", match_duplicates=False)
    q = importer.quarantine(auth.SYSTEM)
    a4 = int(q[q["source_record_id"] == "A4"]["quarantine_id"].iloc[0])
    with pytest.raises(validation.ValidationError):
        importer.release(users["steward"], a4, {"mobile": "still wrong"})
    assert count("SELECT count(*) FROM customers") == 4
    new_id = importer.release(users["steward"], a4, {"mobile": "13812340000"})
    assert warehouse.one("SELECT mobile, full_name FROM customers WHERE customer_id = :i", i=new_id) == {
        "mobile": "+8613812340000",
        "full_name": "王五",
    }
    assert warehouse.scalar("SELECT status FROM quarantine WHERE quarantine_id = :i", i=a4) == "released"
    with pytest.raises(importer.ImportProblem):
        importer.release(users["steward"], a4, {"mobile": "13812340000"})


def test_a_failure_inside_the_import_writes_nothing(stw_empty, tmp_path, users, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_write_quarantine", boom)
    with pytest.raises(RuntimeError):
        importer.import_file(users["steward"], "customers", write(tmp_path, MESSY), "partner_x", match_duplicates=False)
    assert [count(f"SELECT count(*) FROM {t}") for t in ("customers", "quarantine", "imports", "quality_flags")] == [
        0,
        0,
        0,
        0,
    ]


@pytest.mark.parametrize("username", ["manager", "marketing", "lead"])
def test_only_stewards_and_admins_may_import(stw_empty, tmp_path, users, username):
    with pytest.raises(auth.PermissionDenied):
        importer.import_file(users[username], "customers", write(tmp_path, MESSY), "x", match_duplicates=False)
    assert count("SELECT count(*) FROM customers") == 0


GOOD = {
    "mobile": ["13812345678", "+86 139 0000 1111", "", "x1"],
    "email": ["a@b.com", "", "a@@b"],
    "full_name": ["张伟", "", "Anna Smith", "歐陽娜娜"],
    "birth_date": ["1990-01-02", "", "2099-01-01", "1990-02-30"],
    "postcode": ["518000", "", "51800"],
}


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(rows=st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in GOOD.items()}), min_size=1, max_size=12))
def test_every_row_is_either_fully_loaded_or_quarantined_never_partly(stw_empty, users, rows):
    import uuid

    import pandas as pd

    source = "h" + uuid.uuid4().hex[:12]  # examples share the warehouse: one source each
    frame = pd.DataFrame([{**r, "id": f"R{i}"} for i, r in enumerate(rows)]).astype("string")
    mapping = {"source_record_id": ["id"], **{k: [k] for k in GOOD}}
    plan = importer.prepare("customers", frame, mapping, source)
    r = importer.run_import(users["steward"], plan, match_duplicates=False)
    loaded = warehouse.read(
        "SELECT source_record_id, full_name, mobile, email FROM customers WHERE source = :s", s=source
    )
    quarantined = warehouse.read("SELECT source_record_id FROM quarantine WHERE source = :s", s=source)
    assert r.rows_loaded == len(loaded) and r.rows_loaded + r.rows_quarantined == len(rows)
    assert not set(loaded["source_record_id"]) & set(quarantined["source_record_id"])
    not_contactable = set(
        warehouse.read(
            "SELECT c.source_record_id FROM quality_flags f JOIN customers c USING (customer_id) "
            "WHERE c.source = :s AND f.rule_id = 'import.contact'",
            s=source,
        )["source_record_id"]
    )
    for rec in loaded.to_dict("records"):
        assert isinstance(rec["full_name"], str)
        has_contact = isinstance(rec["mobile"], str) or isinstance(rec["email"], str)
        assert has_contact != (rec["source_record_id"] in not_contactable)
        if isinstance(rec["mobile"], str):
            assert validation.mobile(rec["mobile"]) == rec["mobile"]
