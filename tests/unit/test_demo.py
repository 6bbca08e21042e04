"""The demo generator: deterministic, documented defect rates, valid identifiers, coherent
behaviour. One 3,000-customer warehouse is built per module; every check re-derives its
expectation from the data (not from the generator's own bookkeeping)."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta

import pytest

from lib import demo
from lib.security import privacy
from lib.core import warehouse

N = 3000
SEED = 11
AS_OF = demo.DEFAULT_AS_OF
CUTOFF = datetime.combine(AS_OF + timedelta(days=1), datetime.min.time())


def _build(path, n=N, seed=SEED, **kw) -> dict:
    os.environ["C360_DEMO"] = "1"
    warehouse.use(str(path))
    try:
        return demo.build(n, seed, AS_OF, **kw)
    finally:
        warehouse.dispose()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    stats = _build(path)
    warehouse.use(str(path))
    fp = demo.fingerprint()
    warehouse.dispose()
    yield {"path": path, "stats": stats, "fingerprint": fp}
    warehouse.dispose()
    warehouse.use(None)


@pytest.fixture
def db(built):
    """Point the process at the module's demo warehouse for one test."""
    warehouse.use(str(built["path"]))
    yield built
    warehouse.dispose()
    warehouse.use(None)


def rows(sql: str, **params) -> list[dict]:
    return warehouse.read(sql, **params).to_dict("records")


def one(sql: str, **params):
    return warehouse.scalar(sql, **params)


def flagged(defect: str) -> set[int]:
    return {
        int(r["customer_id"]) for r in rows("SELECT customer_id FROM demo_ground_truth WHERE defect = :d", d=defect)
    }


def customers_by_id() -> dict[int, dict]:
    return {int(r["customer_id"]): r for r in rows("SELECT * FROM customers")}


def is_null(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def as_date(v) -> date:
    return v.date() if isinstance(v, datetime) else v


# ---------------------------------------------------------------- determinism and volume


def test_same_seed_gives_the_same_warehouse(db, tmp_path):
    _build(tmp_path / "again.duckdb")
    warehouse.use(str(tmp_path / "again.duckdb"))
    assert demo.fingerprint() == db["fingerprint"]


def test_another_seed_gives_other_customers(db, tmp_path):
    _build(tmp_path / "other.duckdb", seed=SEED + 1)
    warehouse.use(str(tmp_path / "other.duckdb"))
    assert demo.fingerprint()["customers"] != db["fingerprint"]["customers"]


def test_volumes_are_about_8_orders_and_20_events_per_customer(db):
    assert one("SELECT count(*) FROM customers") == N
    assert 7.0 <= one("SELECT count(*) FROM orders") / N <= 9.0
    assert 18.0 <= one("SELECT count(*) FROM events") / N <= 22.0
    stats = db["stats"]
    assert stats["orders"] == one("SELECT count(*) FROM orders")
    assert stats["events"] == one("SELECT count(*) FROM events")


def test_ids_come_from_the_sequences(db):
    for table, key, seq in (
        ("customers", "customer_id", "customer_id_seq"),
        ("orders", "order_id", "order_id_seq"),
        ("events", "event_id", "event_id_seq"),
    ):
        top = one(f"SELECT max({key}) FROM {table}")
        assert one(f"SELECT count(DISTINCT {key}) FROM {table}") == one(f"SELECT count(*) FROM {table}")
        with warehouse.transaction() as tx:
            assert tx.scalar(f"SELECT nextval('{seq}')") > top


def test_refuses_to_overwrite_unless_replace(tmp_path):
    path = tmp_path / "small.duckdb"
    _build(path, n=300)
    with pytest.raises(demo.DemoError, match="replace"):
        _build(path, n=300)
    stats = _build(path, n=400, replace=True)
    assert stats["customers"] == 400
    warehouse.use(str(path))
    assert one("SELECT count(*) FROM customers") == 400
    warehouse.dispose()
    warehouse.use(None)


# ---------------------------------------------------------------- defect rates


@pytest.mark.parametrize("defect", sorted(demo.DEFECT_RATES))
def test_defect_rate_matches_the_documented_constant(db, defect):
    rate = len(flagged(defect)) / N
    assert rate == pytest.approx(demo.DEFECT_RATES[defect], rel=0.1, abs=0.5 / N)


def test_duplicates_are_second_records_of_earlier_people(db):
    cs = customers_by_id()
    truth = rows("SELECT customer_id, duplicate_of, detail FROM demo_ground_truth WHERE defect = 'duplicate'")
    dups = {int(t["customer_id"]) for t in truth}
    shared_key = 0
    for t in truth:
        dup, orig = cs[int(t["customer_id"])], cs[int(t["duplicate_of"])]
        assert int(t["duplicate_of"]) not in dups
        assert dup["birth_date"] == orig["birth_date"]
        assert dup["source"] != orig["source"]
        assert dup["registered_at"] >= orig["registered_at"]
        assert dup["gender"] == orig["gender"] and dup["country"] == orig["country"]
        digits = lambda m: re.sub(r"\D", "", m or "")[-9:]  # noqa: E731
        same_mobile = not is_null(dup["mobile"]) and digits(dup["mobile"]) == digits(orig["mobile"])
        same_email = (
            not is_null(dup["email"]) and not is_null(orig["email"]) and dup["email"].lower() == orig["email"].lower()
        )
        same_id = not is_null(dup["id_number_hash"]) and dup["id_number_hash"] == orig["id_number_hash"]
        same_py = dup["name_pinyin"] == orig["name_pinyin"]
        shared_key += same_mobile or same_email or same_id or same_py
        if "name:same" in t["detail"]:
            assert dup["full_name"] == orig["full_name"]
        if "name:traditional" in t["detail"]:
            assert dup["full_name"] != orig["full_name"] and dup["name_pinyin"] == orig["name_pinyin"]
        if "mobile:same" in t["detail"]:
            assert dup["mobile"] == orig["mobile"]
    assert shared_key >= 0.9 * len(truth)


def test_invalid_emails_fail_validation_and_the_others_pass(db):
    from lib.core.validation import FieldError, email

    bad = flagged("invalid_email")
    for r in rows("SELECT customer_id, email FROM customers WHERE email IS NOT NULL"):
        try:
            email(r["email"])
            ok = True
        except FieldError:
            ok = False
        assert ok == (int(r["customer_id"]) not in bad), r


def test_invalid_mobiles_fail_validation_and_the_others_pass(db):
    from lib.core.validation import FieldError, mobile

    bad = flagged("invalid_mobile")
    for r in rows("SELECT customer_id, mobile FROM customers WHERE mobile IS NOT NULL"):
        try:
            mobile(r["mobile"])
            ok = True
        except FieldError:
            ok = False
        assert ok == (int(r["customer_id"]) not in bad), r


def test_stored_mobiles_are_e164_except_duplicates_typed_elsewhere(db):
    bad = flagged("invalid_mobile")
    formatted = {
        int(r["customer_id"])
        for r in rows("SELECT customer_id FROM demo_ground_truth WHERE detail LIKE '%mobile:formatted%'")
    }
    for r in rows("SELECT customer_id, mobile FROM customers WHERE mobile IS NOT NULL"):
        cid = int(r["customer_id"])
        if cid not in bad | formatted:
            assert re.fullmatch(r"\+[1-9]\d{6,14}", r["mobile"]), r


def test_missing_required_fields(db):
    bad = flagged("missing_required")
    for cid, c in customers_by_id().items():
        missing = is_null(c["full_name"]) or (is_null(c["mobile"]) and is_null(c["email"]))
        assert missing == (cid in bad), c


def test_impossible_dates(db):
    bad = flagged("impossible_date")
    for cid, c in customers_by_id().items():
        b = as_date(c["birth_date"])
        impossible = b > AS_OF or b.year < 1900 or b > c["registered_at"].date()
        assert impossible == (cid in bad), (cid, b, c["registered_at"])


def test_stale_records(db):
    bad = flagged("stale")
    limit = datetime(AS_OF.year - 2, AS_OF.month, AS_OF.day)
    for cid, c in customers_by_id().items():
        stale = c["updated_at"] < limit and c["verified_at"] < limit
        fresh = c["updated_at"] >= limit and c["verified_at"] >= limit
        assert stale if cid in bad else fresh, (cid, c["updated_at"], c["verified_at"])
        assert c["registered_at"] <= c["verified_at"] <= c["updated_at"] < CUTOFF


# ---------------------------------------------------------------- identifiers and names


def test_resident_ids_are_valid_and_match_the_person(db):
    from stdnum.cn import ric

    skip = flagged("impossible_date")
    checked = 0
    for r in rows(
        "SELECT customer_id, id_number_enc, id_number_hash, id_number_last4, birth_date,"
        " gender, country FROM customers WHERE id_number_enc IS NOT NULL"
    ):
        number = privacy.decrypt(r["id_number_enc"])
        assert r["country"] == "CN"
        assert ric.validate(number) == number
        assert r["id_number_last4"] == number[-4:]
        assert r["id_number_hash"] == privacy.id_hash(number)
        assert int(number[16]) % 2 == (1 if r["gender"] == "M" else 0)
        if int(r["customer_id"]) not in skip:
            assert ric.get_birth_date(number) == as_date(r["birth_date"])
            checked += 1
    chinese = one("SELECT count(*) FROM customers WHERE country = 'CN'")
    assert checked >= 0.7 * chinese


def test_resident_ids_are_unique_per_person(db):
    """Records share a resident ID only when they are the same person (a duplicate cluster)."""
    person = {
        int(r["customer_id"]): int(r["duplicate_of"])
        for r in rows("SELECT customer_id, duplicate_of FROM demo_ground_truth WHERE defect = 'duplicate'")
    }
    by_hash: dict[str, set[int]] = {}
    for r in rows("SELECT customer_id, id_number_hash FROM customers WHERE id_number_hash IS NOT NULL"):
        cid = int(r["customer_id"])
        by_hash.setdefault(r["id_number_hash"], set()).add(person.get(cid, cid))
    assert all(len(people) == 1 for people in by_hash.values())
    shared = one("""SELECT count(*) FROM (SELECT id_number_hash FROM customers
                    WHERE id_number_hash IS NOT NULL GROUP BY 1 HAVING count(*) > 1)""")
    assert 0 < shared <= len(person)


def test_companies_have_valid_unified_social_credit_codes(db):
    from stdnum.cn import uscc

    b2b = rows("SELECT company, industry, job_title, uscc FROM customers WHERE customer_type = 'B2B'")
    assert 0.12 <= len(b2b) / N <= 0.18
    for r in b2b:
        assert uscc.is_valid(r["uscc"]) and r["company"] and r["industry"] and r["job_title"]
    assert one("SELECT count(*) FROM customers WHERE customer_type = 'B2C' AND uscc IS NOT NULL") == 0


def test_chinese_names_and_pinyin(db):
    n = 0
    for r in rows(
        "SELECT family_name, given_name, full_name, name_pinyin FROM customers"
        " WHERE country = 'CN' AND full_name IS NOT NULL"
    ):
        assert r["full_name"] == r["family_name"] + r["given_name"]
        m = re.fullmatch(r"([a-z]+(?: [a-z]+)+)\|([a-z]+)\|([a-z]+)", r["name_pinyin"])
        assert m, r
        assert m.group(2) == "".join(s[0] for s in m.group(1).split())
        assert m.group(3) == m.group(1).replace(" ", "")
        n += 1
    assert n / N >= 0.85
    assert one("SELECT name_pinyin FROM customers WHERE full_name = '张伟' LIMIT 1") in (None, "zhang wei|zw|zhangwei")


def test_international_customers(db):
    intl = rows("SELECT * FROM customers WHERE country <> 'CN'")
    assert 0.07 <= len(intl) / N <= 0.13
    for r in intl:
        assert is_null(r["id_number_enc"])
        if r["country"] != "JP" and not is_null(r["full_name"]):
            assert r["full_name"] == f"{r['given_name']} {r['family_name']}"
            assert r["name_pinyin"] == r["full_name"].lower()


def test_chinese_addresses_are_consistent(db):
    areas = demo._areas(AS_OF.year - 100, AS_OF.year)
    known = set(zip(areas.province.to_pylist(), areas.city.to_pylist(), areas.district.to_pylist()))
    prefix = {p: pp for p, pp in zip(areas.province.to_pylist(), areas.postprefix.to_pylist())}
    for r in rows("SELECT province, city, district, postcode FROM customers WHERE country = 'CN'"):
        assert (r["province"], r["city"], r["district"]) in known, r
        assert re.fullmatch(r"\d{6}", r["postcode"]) and r["postcode"][:2] == prefix[r["province"]]


def test_source_record_ids_are_unique_per_source(db):
    assert one("SELECT count(*) FROM (SELECT DISTINCT source, source_record_id FROM customers)") == N
    assert {r["source"] for r in rows("SELECT DISTINCT source FROM customers")} <= set(demo.SOURCES)
    assert {r["channel"] for r in rows("SELECT DISTINCT channel FROM customers")} <= set(demo.CHANNELS)


# ---------------------------------------------------------------- behaviour


def test_orders_and_events_are_stored_by_customer_then_time(db):
    for table, t in (("orders", "order_time"), ("events", "event_time")):
        out_of_order = one(f"""
            SELECT count(*) FROM (
                SELECT customer_id, {t}, lag(customer_id) OVER w AS pc, lag({t}) OVER w AS pt
                FROM {table} WINDOW w AS (ORDER BY rowid))
            WHERE pc > customer_id OR (pc = customer_id AND pt > {t})""")
        assert out_of_order == 0, table


def test_every_order_has_one_matching_purchase_event(db):
    mismatched = one("""
        SELECT count(*) FROM orders o FULL OUTER JOIN
            (SELECT * FROM events WHERE event_type = 'purchase') e USING (order_id)
        WHERE e.event_id IS NULL OR o.customer_id IS NULL OR o.customer_id <> e.customer_id
           OR o.amount <> e.amount OR o.order_time <> e.event_time""")
    assert mismatched == 0
    assert one("SELECT count(*) FROM events WHERE event_type = 'purchase'") == one("SELECT count(*) FROM orders")


def test_refunds_have_return_events(db):
    assert one("SELECT count(*) FROM orders WHERE refund_amount > amount") == 0
    assert (
        one("""SELECT count(*) FROM orders WHERE (status = 'refunded') <> (refund_amount = amount
                  AND refund_amount > 0)""")
        == 0
    )
    missing = one("""
        SELECT count(*) FROM orders o WHERE o.status IN ('refunded', 'partially_refunded')
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'return'
                          AND e.order_id = o.order_id AND e.amount = o.refund_amount
                          AND e.event_time >= o.order_time)""")
    assert missing == 0
    share = one("SELECT avg((status IN ('refunded', 'partially_refunded'))::INT) FROM orders")
    assert 0.03 <= share <= 0.10


def test_events_belong_to_their_customers_lifetime(db):
    assert (
        one(
            """SELECT count(*) FROM events e JOIN customers c USING (customer_id)
                  WHERE e.event_time < c.registered_at OR e.event_time >= :cutoff""",
            cutoff=CUTOFF,
        )
        == 0
    )
    assert one("SELECT count(*) FROM orders WHERE order_time >= :cutoff", cutoff=CUTOFF) == 0
    assert (
        one("""SELECT count(*) FROM events WHERE event_type IN ('consult', 'complaint')
                  AND (note IS NULL OR length(note) > 40)""")
        == 0
    )


LIFECYCLE_SQL = """
WITH p AS (SELECT customer_id, count(*) AS n, max(order_time) AS last FROM orders
           WHERE status IN ('paid', 'partially_refunded') GROUP BY 1),
     i AS (SELECT DISTINCT customer_id FROM events WHERE event_type IN ('add_to_cart', 'consult')
           AND event_time >= :cutoff - INTERVAL 90 DAY)
SELECT c.customer_id, c.lifecycle_stage, c.churn_reason,
       CASE WHEN p.n IS NULL THEN CASE WHEN i.customer_id IS NULL THEN 'prospect' ELSE 'intent' END
            WHEN p.last < :cutoff - INTERVAL 365 DAY THEN 'churned'
            WHEN p.n >= 2 THEN 'repeat' ELSE 'customer' END AS expected
FROM customers c LEFT JOIN p USING (customer_id) LEFT JOIN i USING (customer_id)
"""


def test_lifecycle_stage_is_consistent_with_orders_and_events(db):
    result = rows(LIFECYCLE_SQL, cutoff=CUTOFF)
    wrong = [r for r in result if r["lifecycle_stage"] != r["expected"]]
    assert wrong == []
    counts = {s: sum(r["expected"] == s for r in result) for s in demo.STAGES}
    assert all(counts[s] >= 0.05 * N for s in demo.STAGES), counts
    reasons = [r for r in result if not is_null(r["churn_reason"])]
    assert reasons and all(r["expected"] == "churned" for r in reasons)


def test_lifecycle_stage_agrees_with_the_lifecycle_module(db):
    from lib.marketing import lifecycle

    derived = lifecycle.stages(AS_OF, lifecycle.Rules()).set_index("customer_id")["stage"]
    stored = warehouse.read("SELECT customer_id, lifecycle_stage FROM customers").set_index("customer_id")[
        "lifecycle_stage"
    ]
    assert (stored.sort_index() == derived.sort_index()).all()


def test_purchase_frequency_is_heavy_tailed(db):
    per = [int(r["n"]) for r in rows("SELECT count(*) AS n FROM orders GROUP BY customer_id")]
    per.sort(reverse=True)
    buyers = len(per)
    assert sum(n == 1 for n in per) / buyers >= 0.15  # many one-time buyers
    top = per[: max(1, buyers // 100)]
    assert sum(top) / sum(per) >= 0.08  # a few whales
    assert (
        one(
            "SELECT count(*) FROM customers c WHERE NOT EXISTS"
            " (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id)"
        )
        >= 0.2 * N
    )


def test_shopping_festivals_and_growth_show(db):
    daily = one(
        "SELECT count(*) / count(DISTINCT order_time::DATE) FROM orders"
        " WHERE order_time >= DATE '2025-01-01' AND order_time < DATE '2026-01-01'"
    )
    double11 = one("SELECT count(*) FROM orders WHERE order_time::DATE = DATE '2025-11-11'")
    six18 = one("SELECT count(*) FROM orders WHERE order_time::DATE = DATE '2025-06-18'")
    assert double11 > 3 * daily and six18 > 2 * daily
    by_year = {
        int(r["y"]): int(r["n"])
        for r in rows("SELECT year(registered_at) AS y, count(*) AS n FROM customers GROUP BY 1")
    }
    assert by_year[2025] > by_year[2024]


def test_consent_history(db):
    assert (
        one("""SELECT count(*) FROM consents c JOIN customers k USING (customer_id)
                  WHERE (c.channel IN ('sms', 'phone') AND k.mobile IS NULL)
                     OR (c.channel = 'email' AND k.email IS NULL)""")
        == 0
    )
    # every withdrawal follows a grant of the same channel
    assert (
        one("""SELECT count(*) FROM consents w WHERE w.status = 'withdrawn' AND NOT EXISTS
                  (SELECT 1 FROM consents g WHERE g.customer_id = w.customer_id
                   AND g.channel = w.channel AND g.status = 'granted'
                   AND g.recorded_at <= w.recorded_at)""")
        == 0
    )
    share = one(
        "SELECT count(DISTINCT customer_id) FILTER (WHERE status = 'withdrawn')"
        " / count(DISTINCT customer_id) FROM consents"
    )
    assert 0.05 <= share <= 0.35
    granted_sms = one("SELECT count(DISTINCT customer_id) FROM consents WHERE channel = 'sms'")
    assert granted_sms / one("SELECT count(*) FROM customers WHERE mobile IS NOT NULL") >= 0.6


def test_chinese_customers_dominate_and_use_local_channels(db):
    share_cn = one("SELECT avg((country = 'CN')::INT) FROM customers")
    assert 0.87 <= share_cn <= 0.93
    wechat = one("SELECT avg((channel = 'wechat')::INT) FROM customers")
    assert 0.15 <= wechat <= 0.35
