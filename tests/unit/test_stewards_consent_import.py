"""The `consents` import kind (issue #16 item 5): mapping, validation, quarantine with exact
reasons, idempotence, full history, and the reachable audience after the load."""

from __future__ import annotations

from datetime import datetime

import pytest

from lib.core import warehouse
from lib.marketing import audience
from lib.security import auth, privacy
from lib.stewardship import importer
from tests import factories
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

EVERYONE = {"op": "and", "conditions": []}

# Row numbers below count the header as line 1 (as the quarantine shows them).
FILE = """客户编号,channel,status,time,source,evidence
C1,sms,granted,2026-01-05 10:00,store,form 881
C2,短信,同意,2026-01-05,call centre,rec-22
C3,email,yes,2026-02-01,signup form,
C9,sms,granted,2026-01-05,store,
C1,fax,granted,2026-01-05,store,
C2,sms,granted,not a date,store,
C1,sms,withdrawn,2026-03-01,unsubscribe link,
C4,sms,granted,2026-01-05,store,
"""


@pytest.fixture
def crm(stw_empty):
    """Four live customers of source 'crm' (C1..C4) with valid mobiles and emails; C4 erased."""
    with warehouse.transaction() as tx:
        for cid in (1, 2, 3, 4):
            factories.customer(
                tx,
                cid,
                source="crm",
                source_record_id=f"C{cid}",
                mobile=f"+861380000000{cid}",
                email=f"c{cid}@example.com",
                erased_at=datetime(2025, 1, 1) if cid == 4 else None,
            )
    return stw_empty


def _load(user, data: str = FILE, name: str = "consents.csv"):
    frame = importer.read_table(data.encode(), name)
    plan = importer.prepare("consents", frame, None, "crm", file_name=name, file_bytes=data.encode())
    return importer.run_import(user, plan), plan


def _reachable() -> dict[str, int]:
    counts = audience.reachable(EVERYONE).set_index("channel")
    return {ch: int(counts.loc[ch, "reachable"]) for ch in ("sms", "email", "phone")}


def test_the_mapping_is_suggested_from_english_and_chinese_headers():
    frame = importer.read_table(FILE.encode(), "consents.csv")
    assert importer.suggest_mapping("consents", frame.columns) == {
        "customer_key": ["客户编号"],
        "channel": ["channel"],
        "status": ["status"],
        "recorded_at": ["time"],
        "consent_source": ["source"],
        "evidence": ["evidence"],
    }


def test_a_consent_file_loads_good_rows_and_quarantines_the_rest_with_reasons(crm, users):
    assert _reachable() == {"sms": 0, "email": 0, "phone": 0}
    result, plan = _load(users["steward"])
    assert (result.rows_total, result.rows_loaded, result.rows_unchanged, result.rows_quarantined) == (8, 4, 0, 4)
    quarantined = warehouse.records(
        "SELECT row_no, json_extract_string(reasons, '$[0].field') AS field,"
        " json_extract_string(reasons, '$[0].code') AS code FROM quarantine ORDER BY row_no"
    )
    assert quarantined == [
        {"row_no": 5, "field": "customer_key", "code": "customer_key.unknown"},
        {"row_no": 6, "field": "channel", "code": "consent.channel"},
        {"row_no": 7, "field": "recorded_at", "code": "date.invalid"},
        {"row_no": 9, "field": "customer_key", "code": "consent.erased"},
    ]
    rows = warehouse.records(
        "SELECT customer_id, channel, status, recorded_at, source, recorded_by, evidence FROM consents"
        " ORDER BY customer_id, recorded_at"
    )
    assert rows == [
        {
            "customer_id": 1,
            "channel": "sms",
            "status": "granted",
            "recorded_at": datetime(2026, 1, 5, 10, 0),
            "source": "store",
            "recorded_by": "steward",
            "evidence": "form 881",
        },
        {
            "customer_id": 1,
            "channel": "sms",
            "status": "withdrawn",
            "recorded_at": datetime(2026, 3, 1),
            "source": "unsubscribe link",
            "recorded_by": "steward",
            "evidence": None,
        },
        {
            "customer_id": 2,
            "channel": "sms",
            "status": "granted",
            "recorded_at": datetime(2026, 1, 5),
            "source": "call centre",
            "recorded_by": "steward",
            "evidence": "rec-22",
        },
        {
            "customer_id": 3,
            "channel": "email",
            "status": "granted",
            "recorded_at": datetime(2026, 2, 1),
            "source": "signup form",
            "recorded_by": "steward",
            "evidence": None,
        },
    ]
    # The newest row per channel wins: customer 1 withdrew sms, so only customer 2 is reachable.
    assert _reachable() == {"sms": 1, "email": 1, "phone": 0}
    assert privacy.consent_current(users["steward"], 1)["status"].tolist() == ["withdrawn"]
    entry = warehouse.one("SELECT CAST(detail AS VARCHAR) AS d FROM audit_log WHERE action = 'import.run'")
    assert '"kind": "consents"' in entry["d"] and '"rows_loaded": 4' in entry["d"]


def test_loading_the_same_file_twice_writes_nothing_new(crm, users):
    _load(users["steward"])
    consents, quarantine = (warehouse.scalar(f"SELECT count(*) FROM {t}") for t in ("consents", "quarantine"))
    again, _ = _load(users["steward"])
    assert (again.rows_loaded, again.rows_unchanged, again.rows_quarantined) == (0, 4, 0)
    assert warehouse.scalar("SELECT count(*) FROM consents") == consents == 4
    assert warehouse.scalar("SELECT count(*) FROM quarantine") == quarantine == 4
    assert _reachable() == {"sms": 1, "email": 1, "phone": 0}


def test_a_later_file_adds_history_and_the_newest_change_moves_the_audience(crm, users):
    _load(users["steward"])
    later = (
        "customer_id,channel,status,time\nC1,sms,granted,2026-04-01\nC2,phone,yes,2026-04-01\nC3,email,no,2026-04-02\n"
    )
    result, _ = _load(users["admin"], later, "later.csv")
    assert result.rows_loaded == 3
    assert warehouse.scalar("SELECT count(*) FROM consents WHERE customer_id = 1") == 3  # history kept
    assert _reachable() == {"sms": 2, "email": 0, "phone": 1}
    # Rows without a source column name the import they came from.
    assert warehouse.scalar("SELECT DISTINCT source FROM consents WHERE recorded_at >= '2026-04-01'") == "import crm"


def test_duplicates_within_a_file_and_future_times_are_quarantined(crm, users):
    data = "客户编号,channel,status,time\nC1,sms,granted,2026-01-05\nC1,SMS,granted,2026-01-05\nC2,sms,granted,2999-01-01\n"
    result, _ = _load(users["steward"], data, "dups.csv")
    assert (result.rows_loaded, result.rows_quarantined) == (1, 2)
    codes = warehouse.records(
        "SELECT row_no, json_extract_string(reasons, '$[0].code') AS code FROM quarantine ORDER BY row_no"
    )
    assert codes == [{"row_no": 3, "code": "duplicate_in_file"}, {"row_no": 4, "code": "date.future"}]


def test_a_file_without_a_required_column_is_refused_before_anything_is_written(crm, users):
    frame = importer.read_table(b"customer_id,channel,time\nC1,sms,2026-01-01\n", "x.csv")
    with pytest.raises(importer.ImportProblem, match="Status"):
        importer.prepare("consents", frame, None, "crm")
    assert warehouse.scalar("SELECT count(*) FROM imports") == 0


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_roles_without_import_data_cannot_load_consents(crm, users, role):
    frame = importer.read_table(FILE.encode(), "consents.csv")
    plan = importer.prepare("consents", frame, None, "crm")
    with pytest.raises(auth.PermissionDenied):
        importer.run_import(users[role], plan)
    assert warehouse.scalar("SELECT count(*) FROM consents") == 0


def test_a_single_consent_keeps_its_evidence_and_history(crm, users):
    privacy.record_consent(users["steward"], 2, "email", "granted", "store", evidence="form 12")
    privacy.record_consent(users["steward"], 2, "email", "withdrawn", "call centre")
    rows = warehouse.records("SELECT status, evidence FROM consents WHERE customer_id = 2 ORDER BY consent_id")
    assert rows == [{"status": "granted", "evidence": "form 12"}, {"status": "withdrawn", "evidence": None}]
    with pytest.raises(privacy.PrivacyError, match="500"):
        privacy.record_consent(users["steward"], 2, "sms", "granted", "store", evidence="x" * 501)


def test_a_marketing_tools_file_names_people_by_email(crm, users):
    with warehouse.transaction() as tx:  # two customers of crm share one address
        factories.customer(tx, 5, source="crm", source_record_id="C5", email="shared@example.com")
        factories.customer(tx, 6, source="crm", source_record_id="C6", email="shared@example.com")
    data = (
        "Email Address,channel,status,time\n"
        "C2@Example.com,email,unsubscribed,2026-03-01\n"  # any letter case
        "shared@example.com,email,withdrawn,2026-03-01\n"
        "nobody@example.com,email,withdrawn,2026-03-01\n"
    )
    result, plan = _load(users["steward"], data)
    assert plan.mapping["customer_key"] == ["Email Address"]
    assert result.rows_loaded == 1
    assert warehouse.records("SELECT customer_id, channel, status FROM consents") == [
        {"customer_id": 2, "channel": "email", "status": "withdrawn"}
    ]
    reasons = warehouse.records(
        "SELECT source_record_id, CAST(reasons AS VARCHAR) AS r FROM quarantine ORDER BY row_no"
    )
    assert [(q["source_record_id"], "ambiguous" in q["r"], "unknown" in q["r"]) for q in reasons] == [
        ("shared@example.com", True, False),
        ("nobody@example.com", False, True),
    ]
