"""The customer search index (lib/security/search_index.py): the same answers as scanning every
customer, kept in step by every write of a searched text or a customer's state."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from lib.core import warehouse
from lib.security import search_index
from lib.dashboards import customers
from lib.security import privacy
from lib.stewardship import dedup, edits, importer, records
from tests import factories
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]

PEOPLE = [  # id, full name, pinyin readings, company
    (1, "张伟", "zhang wei|zw|zhangwei", None),
    (2, "张伟帆", "zhang wei fan|zwf|zhangweifan", None),
    (3, "李", "li|l|li", None),
    (4, "Anna Smith", "anna smith", "ACME Trading Ltd"),
    (5, "王小明", "wang xiao ming|wxm|wangxiaoming", "深圳华为科技有限公司"),
    (6, "黄晓伟", "huang xiao wei|hxw|huangxiaowei", "Acme Holdings"),
    (7, "O'Brien-Li", "o'brien-li", None),
    (8, "赵六", "zhao liu|zl|zhaoliu", "华为"),
]
NEEDLES = [
    "张",
    "张伟",
    "张伟帆",
    "zhang wei",
    "zhangwei",
    "zw",
    "li",
    "l",
    "i",
    "acme",
    "ACME tr",
    "ltd",
    "华为",
    "华为科技",
    "wei",
    "xiao wei",
    "o'brien",
    "smith",
    "n s",
    "科技有限",
    "nothing",
    "伟帆x",
]


def brute_force(needle: str) -> list[int]:
    """Live customers whose lower-cased name, pinyin or company contains the needle, by scan."""
    rows = warehouse.records(
        "SELECT customer_id, full_name, name_pinyin, company FROM customers "
        "WHERE merged_into IS NULL AND deleted_at IS NULL AND erased_at IS NULL ORDER BY customer_id"
    )
    n = needle.lower()
    return [
        r["customer_id"]
        for r in rows
        if any(n in (v or "").lower() for v in (r["full_name"], r["name_pinyin"], r["company"]))
    ]


@pytest.fixture
def people(stw_empty):
    with warehouse.transaction() as tx:
        for cid, name, pinyin, company in PEOPLE:
            factories.customer(tx, cid, full_name=name, name_pinyin=pinyin, company=company)
    return stw_empty


def in_step() -> None:
    assert search_index.differences() == {"missing": 0, "extra": 0, "customers": []}


def found(users, entry: str) -> list[int]:
    page = customers.search(users["manager"], entry, page_size=200)
    assert page.total == len(page.rows)
    return sorted(page.rows["customer_id"].tolist())


@pytest.mark.parametrize("needle", NEEDLES)
def test_the_index_finds_exactly_what_a_scan_finds(people, users, needle):
    assert found(users, needle) == brute_force(needle)


def test_whole_names_and_pinyin_readings_come_first(people, users):
    assert customers.search(users["manager"], "张伟").rows["customer_id"].tolist() == [1, 2]
    assert customers.search(users["manager"], "li").rows["customer_id"].tolist()[0] == 3  # 'li' as a reading
    assert customers.search(users["manager"], "华为").rows["customer_id"].tolist() == [8, 5]  # the company as typed


def test_a_long_entry_is_read_through_its_rarest_gram(people, users):
    """'zhang wei fan': the counts pick a gram only customer 2 has; one not counted yet counts 0."""
    with warehouse.transaction() as tx:
        search_index.rebuild(tx)
    assert found(users, "zhang wei fan") == [2]
    with warehouse.transaction() as tx:
        factories.customer(tx, 9, full_name="张伟帆", name_pinyin="zhang wei fan|zwf|zhangweifan")
    assert found(users, "zhang wei fan") == [2, 9]


def test_every_kind_of_write_keeps_the_index_in_step(people, users, tmp_path):
    steward = users["steward"]
    new = records.create_customer(steward, {"full_name": "欧阳娜娜", "gender": "F", "mobile": "138 0013 8000"})
    in_step()
    assert found(users, "ouyang") == [new]

    edits.update_customer(steward, 8, {"full_name": "赵七", "company": "腾讯"}, 1)
    in_step()
    assert found(users, "赵六") == [] and found(users, "赵七") == [8] and found(users, "华为") == [5]
    audit_id = warehouse.scalar("SELECT max(audit_id) FROM audit_log WHERE action = 'customer.update'")
    edits.undo_edit(steward, int(audit_id))
    in_step()
    assert found(users, "赵六") == [8]

    records.delete_customer(steward, 1, "left the company", 1)
    in_step()
    assert found(users, "张伟") == [2]
    records.restore_customer(steward, 1, "came back", 2)
    in_step()
    assert found(users, "张伟") == [1, 2]

    merge_id = dedup.merge(steward, 1, 2)
    in_step()
    assert found(users, "张伟帆") == []
    dedup.undo_merge(steward, merge_id)
    in_step()
    assert found(users, "张伟帆") == [2]

    path = tmp_path / "people.csv"
    path.write_text("客户编号,姓名,手机\nP1,司马懿,13912345678\nP2,诸葛亮,13912345679\n", encoding="utf-8")
    result = importer.import_file(steward, "customers", path, "partner_x", match_duplicates=False)
    assert len(result.new_customer_ids) == 2
    in_step()
    assert len(found(users, "zhuge")) == 1 and len(found(users, "司马")) == 1

    privacy.erase_customer(users["admin"], 5, "the person asked")
    in_step()
    assert found(users, "王小明") == [] and found(users, "华为科技") == []
    assert warehouse.scalar("SELECT count(*) FROM search_grams WHERE customer_id = 5") == 0


STATEMENT = re.compile(r"--\s*name:\s*(\w+)\s*\n(.*?)(?=--\s*name:|\Z)", re.S)
WRITES_CUSTOMERS = re.compile(r"\b(UPDATE\s+customers|INSERT\s+INTO\s+customers)\b", re.I)


def test_every_statement_that_writes_customers_is_classified_and_its_callers_refresh():
    """A new write of customers fails here until it says whether it changes what search reads;
    the Python files that run a searched-field write call search_index (or, for the erasure,
    the registry deletes the person's entries)."""
    writers = {}
    for file in sorted((ROOT / "lib/core/sql").glob("*.sql")):
        for name, body in STATEMENT.findall(file.read_text(encoding="utf-8")):
            if WRITES_CUSTOMERS.search(re.sub(r"--[^\n]*", "", body)):
                writers[name] = file.name
    assert writers, "the pattern found no writer at all"
    unclassified = set(writers) - set(search_index.WRITERS) - set(search_index.NOT_SEARCHED)
    assert not unclassified, f"classify in lib/security/search_index.py: {sorted(unclassified)}"
    assert not set(search_index.WRITERS) & set(search_index.NOT_SEARCHED)
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "lib").rglob("*.py")}
    for name in search_index.WRITERS:
        callers = [p for p, text in sources.items() if f'"{name}"' in text]
        assert callers, f"{name} is run nowhere"
        for p in callers:
            assert "search_index." in sources[p] or "ERASURE_REGISTRY" in sources[p], (name, p)
    assert any(e.query == "search_index_erase" for e in privacy.ERASURE_REGISTRY)


def test_the_demo_builds_the_index(tmp_path):
    from lib.demo import load

    try:
        load.build(300, seed=7, as_of=datetime(2026, 6, 30).date(), path=str(tmp_path / "demo.duckdb"))
        in_step()
        assert search_index.size()["customers"] > 250
    finally:
        warehouse.dispose()
        warehouse.use(None)
