"""One person's data spread over every place the app keeps it, built through the real paths.

欧阳娜娜 arrives from a CSV import in three records of the source `crm`:
P1 loads; P2 loads flagged (e-mail `nana@@example.com` rejected, ID number with a wrong check
digit kept encrypted); P3 has no name and is quarantined with a valid ID number, then a
steward releases it with the name filled in. A steward edits P1's address (history), adds a
complaint note, merges P2 and P3 into P1 (merge snapshots, audit). Someone else, 王小明 (P4),
keeps open import flags (a rejected e-mail and a rejected ID number) for the pages to show;
Q5 stays in the quarantine with a valid ID number.
"""

from __future__ import annotations

from datetime import datetime

from lib.security import auth
from lib.stewardship import edits as customer_edits, dedup, importer
from lib.core import warehouse
from tests import factories as f

ID = "11010519491231002X"  # valid, 欧阳娜娜's
BAD_ID = "110105194912310021"  # wrong check digit (X expected), also hers
OTHER_BAD_ID = "110105198808081230"  # wrong check digit (7 expected), 王小明's
QUARANTINED_ID = "110105195001010012"  # valid, on a row that stays quarantined
OLD_REGION_ID = "110112196001010010"  # valid: born 1960 in 通州区 (code created 1997)

PERSON = {  # every value of hers that erasure must remove
    "name": "欧阳娜娜",
    "mobile": "13812345678",
    "mobile_e164": "+8613812345678",
    "mobile2": "13912345678",
    "email": "ouyang.nana@example.com",
    "bad_email": "nana@@example.com",
    "birth": "1949-12-31",
    "address": "建国路88号",
    "address2": "望京街99号",
    "id": ID,
    "bad_id": BAD_ID,
}
CONTACTS = (
    "13812345678",
    "13912345678",
    "ouyang.nana@",
    "nana@@example.com",
    "建国路88号",
    "望京街99号",
    "13600000001",
    "wxm@@qq.com",
)
IDS = (ID, BAD_ID, OTHER_BAD_ID, QUARANTINED_ID)

CSV = f"""id,name,mobile,email,birth_date,id_number,address
P1,欧阳娜娜,13812345678,ouyang.nana@example.com,1949-12-31,{ID},建国路88号
P2,欧阳娜娜,13912345678,nana@@example.com,1949-12-31,{BAD_ID},建国路88号
P3,,13812345678,,1949-12-31,{ID},建国路88号
P4,王小明,13600000001,wxm@@qq.com,1988-08-08,{OTHER_BAD_ID},
Q5,,13700000005,,1950-01-01,{QUARANTINED_ID},
"""


def build(tmp_path) -> dict[str, int]:
    """The scenario above; returns the customer ids by source record id."""
    steward = auth.User("steward", "Steward", frozenset({"steward"}))
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")
    result = importer.import_file(steward, "customers", path, "crm", match_duplicates=False)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 2)
    q = warehouse.read("SELECT quarantine_id, source_record_id FROM quarantine")
    p3 = int(q[q["source_record_id"] == "P3"]["quarantine_id"].iloc[0])
    importer.release(steward, p3, {"full_name": PERSON["name"]})
    ids = dict(zip(*warehouse.read("SELECT source_record_id, customer_id FROM customers").T.values))
    ids = {k: int(v) for k, v in ids.items()}
    customer_edits.update_customer(steward, ids["P1"], {"address": PERSON["address2"]}, 1)
    with warehouse.transaction() as tx:
        f.event(tx, ids["P1"], "complaint", datetime(2024, 3, 2), note=f"{PERSON['name']} {PERSON['mobile']} 投诉物流")
    for other in ("P2", "P3"):
        version = warehouse.scalar("SELECT version FROM customers WHERE customer_id = :c", c=ids["P1"])
        dedup.merge(steward, ids["P1"], ids[other], {"email": "survivor"}, expected_versions=(version, 1))
    return ids


def scan(values) -> dict[str, list[str]]:
    """value -> every table.column (of every base table, any type cast to text) holding it."""
    cols = warehouse.read(
        "SELECT c.table_name, c.column_name FROM duckdb_columns() c "
        "JOIN duckdb_tables() t USING (database_name, schema_name, table_name) "
        "WHERE c.schema_name = 'main' AND NOT t.temporary"
    )
    hits: dict[str, list[str]] = {v: [] for v in values}
    for table, group in cols.groupby("table_name"):
        names = group["column_name"].tolist()
        sql = "SELECT " + ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in names) + f' FROM "{table}"'
        frame = warehouse.read(sql)
        for column in names:
            text = "\n".join(str(v) for v in frame[column].tolist() if v is not None)
            for value in values:
                if value in text:
                    hits[value].append(f"{table}.{column}")
    return {v: where for v, where in hits.items() if where}


def tokens() -> list[str]:
    """Every Fernet token stored anywhere (any text column of any base table)."""
    import re

    found = []
    for where in scan(["gAAAAA"]).get("gAAAAA", []):
        table, column = where.split(".")
        for v in warehouse.read(f'SELECT CAST("{column}" AS VARCHAR) AS v FROM "{table}"')["v"]:
            found += re.findall(r"gAAAAA[A-Za-z0-9_\-]+=*", str(v))
    return found
