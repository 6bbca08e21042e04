"""Interactions and follow-ups (issue #16 item 3), the interactions import, and the review
queue's bulk verify/ignore (item 6). Hand-made fixtures: every expected value is counted here."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from lib.core import validation, warehouse
from lib.security import auth, privacy
from lib.stewardship import importer, interactions, quality, review
from tests import factories
from tests.stewards_fixtures import _stw_root, stw_empty, stw_wh  # noqa: F401 - fixtures

TODAY = date.today()


@pytest.fixture
def crm(stw_empty):
    """Three live customers of source 'crm' (keys C1..C3) and a complaint event on customer 1."""
    with warehouse.transaction() as tx:
        for cid in (1, 2, 3):
            factories.customer(tx, cid, source="crm", source_record_id=f"C{cid}", mobile=f"+861380000000{cid}")
        factories.event(tx, 1, "complaint", datetime(2026, 1, 2, 9, 0), channel="phone", note="parcel late")
        factories.event(tx, 1, "browse", datetime(2026, 1, 3, 9, 0))
    return stw_empty


def _audit(action: str) -> list[dict]:
    return warehouse.records(
        "SELECT username, entity_id, CAST(after AS VARCHAR) AS after, CAST(detail AS VARCHAR) AS detail "
        "FROM audit_log WHERE action = :a ORDER BY audit_id",
        a=action,
    )


# ---------------------------------------------------------------- adding and the timeline


def test_a_steward_logs_a_call_and_it_joins_complaints_in_the_timeline(crm, users):
    iid = interactions.add(
        users["steward"],
        1,
        "call",
        channel="phone",
        outcome="follow_up",
        note="asked about the refund",
        occurred_at=datetime(2026, 1, 5, 14, 30),
        follow_up_on=TODAY + timedelta(days=2),
    )
    frame = interactions.timeline(users["manager"], 1)
    assert frame[["origin", "interaction_type", "channel", "owner", "note"]].astype(object).where(
        frame[["origin", "interaction_type", "channel", "owner", "note"]].notna(), None
    ).values.tolist() == [
        ["interaction", "call", "phone", "steward", "asked about the refund"],
        ["event", "complaint", "phone", None, "parcel late"],  # the browse event is not a contact
    ]
    assert int(frame["entry_id"].iloc[0]) == iid
    assert pd.Timestamp(frame["follow_up_on"].iloc[0]).date() == TODAY + timedelta(days=2)
    entry = _audit("interaction.add")
    assert len(entry) == 1 and entry[0]["username"] == "steward" and entry[0]["entity_id"] == "1"
    assert "refund" not in entry[0]["after"] and '"note_chars": 22' in entry[0]["detail"]


def test_the_timeline_scrubs_contacts_in_notes_for_roles_that_may_not_see_them(crm, users):
    interactions.add(users["steward"], 2, "note", note="call back on 13912345678")
    assert interactions.timeline(users["steward"], 2)["note"].tolist() == ["call back on 13912345678"]
    assert "13912345678" not in interactions.timeline(users["manager"], 2)["note"].iloc[0]


def test_invalid_fields_are_refused_together_with_their_messages(crm, users):
    with pytest.raises(validation.ValidationError) as caught:
        interactions.add(
            users["steward"],
            1,
            "fax",
            channel="pigeon",
            outcome="maybe",
            note="x" * 2001,
            occurred_at=datetime.now() + timedelta(days=1),
            follow_up_on=TODAY - timedelta(days=1),
        )
    assert {e.field: e.code for e in caught.value.errors} == {
        "interaction_type": "interaction.type",
        "channel": "interaction.channel",
        "outcome": "interaction.outcome",
        "note": "text.too_long",
        "occurred_at": "date.future",
        "follow_up_on": "follow_up.past",
    }
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 0


def test_unknown_merged_and_erased_customers_take_no_interaction(crm, users):
    with warehouse.transaction() as tx:
        factories.customer(tx, 4, merged_into=1)
    with pytest.raises(interactions.InteractionError, match="no customer 99"):
        interactions.add(users["steward"], 99, "call")
    with pytest.raises(interactions.InteractionError, match="merged into 1"):
        interactions.add(users["steward"], 4, "call")
    with pytest.raises(validation.ValidationError):
        interactions.add(users["steward"], 1, "call", owner="nobody")
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 0


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_roles_without_log_interaction_are_refused(crm, users, role):
    with pytest.raises(auth.PermissionDenied):
        interactions.add(users[role], 1, "call")
    with pytest.raises(auth.PermissionDenied):
        interactions.follow_ups(users[role])
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 0


# ---------------------------------------------------------------- follow-ups


def test_my_follow_ups_list_open_ones_i_own_overdue_first_and_done_ones_leave(crm, users):
    steward, admin = users["steward"], users["admin"]
    later = interactions.add(steward, 3, "call", follow_up_on=TODAY + timedelta(days=5))
    due_today = interactions.add(steward, 2, "visit", follow_up_on=TODAY)
    tomorrow = interactions.add(steward, 1, "email", follow_up_on=TODAY + timedelta(days=1))
    interactions.add(steward, 1, "note")  # no follow-up
    interactions.add(admin, 1, "call", follow_up_on=TODAY)  # someone else's

    seen_in_three_days = interactions.follow_ups(steward, today=TODAY + timedelta(days=3))
    assert seen_in_three_days["interaction_id"].tolist() == [due_today, tomorrow, later]
    assert seen_in_three_days["overdue"].tolist() == [True, True, False]
    assert seen_in_three_days["customer_id"].tolist() == [2, 1, 3]

    interactions.mark_done(steward, tomorrow)
    assert interactions.follow_ups(steward)["interaction_id"].tolist() == [due_today, later]
    with pytest.raises(interactions.InteractionError, match="already done"):
        interactions.mark_done(steward, tomorrow)
    done = _audit("interaction.follow_up_done")
    assert len(done) == 1 and f'"interaction_id": {tomorrow}' in done[0]["detail"]


def test_only_the_owner_or_an_admin_closes_a_follow_up(crm, users):
    iid = interactions.add(users["steward"], 1, "call", follow_up_on=TODAY)
    colleague = auth.User("steward2", "Colleague", frozenset({"steward"}))
    with pytest.raises(interactions.InteractionError, match="belongs to steward"):
        interactions.mark_done(colleague, iid)
    interactions.mark_done(users["admin"], iid)
    assert interactions.follow_ups(users["steward"]).empty


# ---------------------------------------------------------------- erasure


def test_erasure_clears_interaction_notes_and_consent_evidence(crm, users):
    interactions.add(users["steward"], 1, "call", note="张三 said call 13912345678")
    interactions.add(users["steward"], 2, "call", note="keep me")
    privacy.record_consent(users["steward"], 1, "sms", "granted", "store", evidence="signed form 881 张三")
    privacy.erase_customer(users["admin"], 1, "data-subject request 42")
    rows = warehouse.records("SELECT customer_id, note FROM interactions ORDER BY customer_id")
    assert rows == [{"customer_id": 1, "note": None}, {"customer_id": 2, "note": "keep me"}]
    assert warehouse.scalar("SELECT count(*) FROM consents WHERE evidence IS NOT NULL") == 0
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 2  # the rows (and counts) stay


# ---------------------------------------------------------------- import


CALLS = """call_id,客户编号,type,time,channel,outcome,owner,备注,回访日期,done
K1,C1,call,2026-01-10 09:00,phone,resolved,steward,refund explained,,
K2,C2,拜访,2026-01-11,store,follow_up,,wants a catalogue,2026-01-20,no
K3,C9,call,2026-01-12,phone,,steward,unknown customer,,
K4,C3,fax,2026-01-12,phone,,steward,bad type,,
K5,C3,call,yesterday-ish,phone,,steward,bad time,,
K6,C3,call,2026-01-12,phone,,ghost,unknown owner,,
K7,C3,call,2026-01-13,phone,shrug,admin,outcome emptied,2026-01-15,yes
"""


def _import_calls(user, data: str = CALLS):
    frame = importer.read_table(data.encode(), "calls.csv")
    plan = importer.prepare("interactions", frame, None, "crm", file_name="calls.csv", file_bytes=data.encode())
    return importer.run_import(user, plan), plan


def test_an_interaction_file_loads_with_quarantine_and_again_adds_nothing(crm, users):
    result, plan = _import_calls(users["steward"])
    assert (result.rows_total, result.rows_loaded, result.rows_unchanged, result.rows_quarantined) == (7, 3, 0, 4)
    loaded = warehouse.records(
        "SELECT source_record_id, customer_id, interaction_type, outcome, owner, note, follow_up_on,"
        " follow_up_done_at IS NOT NULL AS done FROM interactions ORDER BY source_record_id"
    )
    assert [
        (r["source_record_id"], r["customer_id"], r["interaction_type"], r["outcome"], r["owner"]) for r in loaded
    ] == [
        ("K1", 1, "call", "resolved", "steward"),
        ("K2", 2, "visit", "follow_up", "steward"),  # owner empty: the importing user
        ("K7", 3, "call", None, "admin"),  # an unknown outcome is left empty
    ]
    assert [r["follow_up_on"] for r in loaded] == [None, date(2026, 1, 20), date(2026, 1, 15)]
    assert [r["done"] for r in loaded] == [False, False, True]
    reasons = warehouse.records(
        "SELECT source_record_id, json_extract_string(reasons, '$[0].code') AS code FROM quarantine"
        " WHERE kind = 'interactions' ORDER BY source_record_id"
    )
    assert [(r["source_record_id"], r["code"]) for r in reasons] == [
        ("K3", "customer_key.unknown"),
        ("K4", "interaction.type"),
        ("K5", "date.invalid"),
        ("K6", "owner.unknown"),
    ]
    # An overdue imported follow-up (2026-01-20) is in the owner's list.
    assert interactions.follow_ups(users["steward"])["interaction_id"].tolist() == [
        warehouse.scalar("SELECT interaction_id FROM interactions WHERE source_record_id = 'K2'")
    ]
    again, _ = _import_calls(users["steward"])
    assert (again.rows_loaded, again.rows_unchanged, again.rows_quarantined) == (0, 3, 0)
    assert warehouse.scalar("SELECT count(*) FROM interactions") == 3
    assert warehouse.scalar("SELECT count(*) FROM quarantine") == 4
    assert warehouse.scalar("SELECT kind FROM imports ORDER BY import_id LIMIT 1") == "interactions"


# ---------------------------------------------------------------- review queue in bulk


def _open_flags(customer_ids: list[int]) -> list[int]:
    frame = warehouse.read(
        "SELECT flag_id FROM quality_flags WHERE status = 'open' AND kind = 'rule'"
        " AND list_contains(CAST(:ids AS BIGINT[]), customer_id) ORDER BY flag_id",
        ids=customer_ids,
    )
    return [int(i) for i in frame["flag_id"]]


def _open_total(user) -> int:
    return int(review.counts(user)["n"].sum())


def test_bulk_verify_closes_every_selected_flag_in_one_go_and_the_counts_follow(stw_wh, users):
    quality.run(auth.SYSTEM)
    picked = _open_flags([7, 8, 9])  # invalid mobile, invalid email, bad postcode: one flag each
    assert len(picked) == 3
    before = _open_total(users["steward"])
    versions = {
        r["customer_id"]: r["version"]
        for r in warehouse.records("SELECT customer_id, version FROM customers WHERE customer_id IN (7, 8, 9)")
    }
    assert review.bulk_resolve(users["steward"], picked, "verify", "checked with the customer") == 3
    assert _open_total(users["steward"]) == before - 3
    statuses = warehouse.records(
        "SELECT status, reason, resolved_by FROM quality_flags WHERE list_contains(CAST(:ids AS BIGINT[]), flag_id)",
        ids=picked,
    )
    assert statuses == [{"status": "verified", "reason": "checked with the customer", "resolved_by": "steward"}] * 3
    after = {
        r["customer_id"]: r
        for r in warehouse.records(
            "SELECT customer_id, version, verified_at FROM customers WHERE customer_id IN (7, 8, 9)"
        )
    }
    assert {c: after[c]["version"] for c in after} == {c: versions[c] + 1 for c in versions}
    assert all(after[c]["verified_at"] is not None for c in after)
    entries = _audit("customer.verify")
    assert [e["entity_id"] for e in entries] == ["7", "8", "9"]
    assert all('"bulk": true' in e["detail"] for e in entries)


def test_bulk_ignore_needs_a_reason_and_writes_nothing_when_one_flag_was_decided_meanwhile(stw_wh, users):
    quality.run(auth.SYSTEM)
    picked = _open_flags([7, 8, 9])
    before = _open_total(users["steward"])
    with pytest.raises(validation.ValidationError):
        review.bulk_resolve(users["steward"], picked, "ignore", "no")
    from lib.stewardship import edits

    edits.ignore_flag(users["admin"], picked[0], "decided by the admin")
    with pytest.raises(review.BulkError, match="no longer open"):
        review.bulk_resolve(users["steward"], picked, "ignore", "known test data")
    assert _open_total(users["steward"]) == before - 1  # only the admin's decision
    assert review.bulk_resolve(users["steward"], picked[1:], "ignore", "known test data") == 2
    assert _open_total(users["steward"]) == before - 3
    assert len(_audit("flag.ignore")) == 3


@pytest.mark.parametrize("role", ["manager", "marketing"])
def test_bulk_review_is_refused_without_resolve_flags(stw_wh, users, role):
    quality.run(auth.SYSTEM)
    picked = _open_flags([7])
    with pytest.raises(auth.PermissionDenied):
        review.bulk_resolve(users[role], picked, "ignore", "known test data")
    assert _open_flags([7]) == picked


def test_a_scripted_import_needs_an_owner_column(crm):
    data = "call_id,客户编号,type,time,owner\nS1,C1,call,2026-01-10,\nS2,C2,call,2026-01-10,admin\n"
    result, _ = _import_calls(auth.SYSTEM, data)  # the CLI imports as `system`, which has no account
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    reason = warehouse.one("SELECT source_record_id, json_extract_string(reasons, '$[0].code') AS code FROM quarantine")
    assert reason == {"source_record_id": "S1", "code": "required.missing"}


def test_the_survivors_timeline_includes_interactions_of_records_merged_into_it(crm, users):
    logged = interactions.add(users["steward"], 2, "visit", note="before the merge")
    with warehouse.transaction() as tx:
        tx.run("UPDATE customers SET merged_into = 1 WHERE customer_id = 2")
    frame = interactions.timeline(users["steward"], 1)
    assert frame.loc[frame["origin"] == "interaction", "entry_id"].tolist() == [logged]
