"""Approved contact lists (issue #18): refused without approval, consent or permission, or
when the requester approves their own; audited with row count and SHA-256 when allowed;
unavailable once expired; the control group never in them; only the channel's columns."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, datetime

import pandas as pd
import pytest

from lib.admin import setting_changes
from lib.core import warehouse
from lib.marketing import campaigns, contact_exports
from lib.security import auth, contact_release, privacy
from tests import factories as f
from tests.marketing_fixture import AS_OF, EMAIL_REACHABLE, SMS_REACHABLE, fresh_wh  # noqa: F401

MARKETING = auth.User("marketing", "Li Na", frozenset({"marketing"}))
MARKETING_2 = auth.User("marketing2", "Zhao Lei", frozenset({"marketing"}))
MANAGER = auth.User("manager", "Wang Fang", frozenset({"manager"}))
ADMIN = auth.User("admin", "Chen Jie", frozenset({"admin"}))
LEAD = auth.User("lead", "Liu Yang", frozenset({"manager", "marketing"}))
STEWARD = auth.User("steward", "Zhang Wei", frozenset({"steward"}))
EVERYONE = {"op": "and", "conditions": []}
CONTROL = {7, 11}  # campaign 1's control group at 20 % (tests/unit/test_campaigns.py)


def launched(channel: str = "sms", share: float = 0.2) -> int:
    cid = campaigns.create(
        MARKETING, "June", channel, date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30), EVERYONE, share
    )
    campaigns.launch(MARKETING, cid, AS_OF)
    return cid


def approved(cid: int, requester: auth.User = MARKETING, approver: auth.User = MANAGER) -> int:
    export_id = contact_exports.request(requester, cid, "Summer offer by SMS gateway")
    contact_exports.approve(approver, export_id)
    return export_id


def csv_rows(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)


def audit_rows(action: str) -> list[dict]:
    return warehouse.read("SELECT * FROM audit_log WHERE action = :a ORDER BY audit_id", a=action).to_dict("records")


def test_an_approved_sms_list_has_consenting_reachable_treated_members_only(fresh_wh):
    cid = launched()
    assert cid == 1
    file = contact_exports.download(MARKETING, approved(cid))
    frame = csv_rows(file.data)
    # sms reachable 1, 2, 5, 7 (3 bad mobile, 4 withdrew, 6 no mobile, 12 merged); 7 is control
    assert frame["customer_id"].astype(int).tolist() == [1, 2, 5]
    assert set(SMS_REACHABLE) - CONTROL == {1, 2, 5}
    # the channel's contact and, to personalise the message, the next category to offer
    assert list(frame.columns) == ["customer_id", "full_name", "mobile", "next_category"]
    assert frame["mobile"].tolist() == ["+8613800000001", "+8613800000002", "+8613800000005"]  # in clear
    assert file.rows == 3


def test_an_email_list_carries_the_email_and_nothing_else(fresh_wh):
    cid = launched("email")
    frame = csv_rows(contact_exports.download(MARKETING, approved(cid)).data)
    assert list(frame.columns) == ["customer_id", "full_name", "email", "next_category"]
    assert frame["customer_id"].astype(int).tolist() == sorted(set(EMAIL_REACHABLE) - CONTROL) == [1, 3, 4, 6]


def test_the_control_group_is_never_exported(fresh_wh):
    with warehouse.transaction() as tx:  # make everybody reachable on sms
        for cid in range(1, 14):
            tx.run("UPDATE customers SET mobile = :m WHERE customer_id = :c", m=f"+86139000000{cid:02d}", c=cid)
            f.consent(tx, cid, "sms", "granted", datetime(2026, 1, 1))
    cid = launched(share=0.5)
    groups = campaigns.member_groups(cid)
    control = set(groups.loc[groups["holdout"], "customer_id"].astype(int))
    assert len(control) == 6
    exported = set(csv_rows(contact_exports.download(MARKETING, approved(cid)).data)["customer_id"].astype(int))
    assert exported == set(groups["customer_id"].astype(int)) - control
    assert not exported & control


def test_the_download_is_audited_with_row_count_and_fingerprint(fresh_wh):
    export_id = approved(launched())
    file = contact_exports.download(MARKETING, export_id)
    assert file.sha256 == hashlib.sha256(file.data).hexdigest()
    (entry,) = audit_rows("contacts.export")
    assert entry["username"] == "marketing" and entry["entity_id"] == str(export_id)
    detail = entry["detail"]
    assert detail["rows"] == 3 and detail["sha256"] == file.sha256
    assert detail["channel"] == "sms" and detail["approved_by"] == "manager"
    assert detail["purpose"] == "Summer offer by SMS gateway"
    row = contact_exports.of_campaign(1).iloc[0]
    assert (row["downloads"], row["last_rows"], row["last_sha256"]) == (1, 3, file.sha256)
    # the audit log names the list, it does not copy it
    assert "+8613800000001" not in str(warehouse.read("SELECT detail FROM audit_log")["detail"].tolist())


def test_refused_without_approval(fresh_wh):
    export_id = contact_exports.request(MARKETING, launched(), "Summer offer by SMS gateway")
    with pytest.raises(contact_exports.ExportNotAvailable, match="not been approved"):
        contact_exports.download(MARKETING, export_id)
    (entry,) = audit_rows("contacts.export_refused")
    assert entry["detail"]["reason"] == "not_approved"
    assert audit_rows("contacts.export") == []


def test_a_rejected_request_is_never_available(fresh_wh):
    export_id = contact_exports.request(MARKETING, launched(), "Summer offer by SMS gateway")
    contact_exports.reject(MANAGER, export_id)
    with pytest.raises(contact_exports.ExportNotAvailable, match="rejected"):
        contact_exports.download(MARKETING, export_id)
    with pytest.raises(contact_exports.ContactExportError, match="already rejected"):
        contact_exports.approve(ADMIN, export_id)


def test_the_requester_cannot_approve_their_own_request(fresh_wh):
    cid = launched()
    export_id = contact_exports.request(LEAD, cid, "Summer offer by SMS gateway")  # manager + marketing
    with pytest.raises(contact_exports.SelfApproval):
        contact_exports.approve(LEAD, export_id)
    (entry,) = audit_rows("contacts.approve_refused")
    assert entry["username"] == "lead" and entry["detail"]["reason"] == "requester"
    assert contact_exports.of_campaign(cid).iloc[0]["status"] == "requested"
    contact_exports.approve(MANAGER, export_id)  # a second person may
    assert len(csv_rows(contact_exports.download(LEAD, export_id).data)) == 3


@pytest.mark.parametrize("who", [MANAGER, STEWARD])
def test_roles_without_export_contacts_can_neither_ask_nor_download(fresh_wh, who):
    cid = launched()
    with pytest.raises(auth.PermissionDenied):
        contact_exports.request(who, cid, "Summer offer by SMS gateway")
    export_id = approved(cid)
    with pytest.raises(auth.PermissionDenied):
        contact_exports.download(who, export_id)


@pytest.mark.parametrize("who", [MARKETING_2, STEWARD])
def test_roles_without_approve_contact_export_cannot_approve(fresh_wh, who):
    export_id = contact_exports.request(MARKETING, launched(), "Summer offer by SMS gateway")
    with pytest.raises(auth.PermissionDenied):
        contact_exports.approve(who, export_id)


def test_only_the_requester_downloads(fresh_wh):
    export_id = approved(launched())
    with pytest.raises(contact_exports.ExportNotAvailable, match="person who asked"):
        contact_exports.download(MARKETING_2, export_id)


def test_a_list_is_unavailable_once_expired(fresh_wh):
    export_id = approved(launched())
    row = contact_exports.of_campaign(1).iloc[0]
    hours = (row["expires_at"] - row["decided_at"]).total_seconds() / 3600
    assert hours == pytest.approx(24)  # contact_export_hours
    with warehouse.transaction() as tx:
        tx.run("UPDATE contact_exports SET expires_at = now()::TIMESTAMP - INTERVAL 1 MINUTE")
    with pytest.raises(contact_exports.ExportNotAvailable, match="expired"):
        contact_exports.download(MARKETING, export_id)
    assert audit_rows("contacts.export_refused")[0]["detail"]["reason"] == "expired"


def test_consent_is_checked_at_download_not_at_approval(fresh_wh):
    export_id = approved(launched())
    with warehouse.transaction() as tx:
        f.consent(tx, 2, "sms", "withdrawn", datetime(2026, 6, 29))
        tx.run("UPDATE customers SET erased_at = TIMESTAMP '2026-06-29 00:00:00' WHERE customer_id = 5")
    frame = csv_rows(contact_exports.download(MARKETING, export_id).data)
    assert frame["customer_id"].astype(int).tolist() == [1]


def test_approval_can_be_switched_off_in_the_settings(fresh_wh):
    cid = launched()
    setting_changes.put(ADMIN, "contact_export_approval", False)
    export_id = contact_exports.request(MARKETING, cid, "Summer offer by SMS gateway")
    assert contact_exports.of_campaign(cid).iloc[0]["status"] == "approved"
    assert len(csv_rows(contact_exports.download(MARKETING, export_id).data)) == 3


def test_a_request_needs_a_purpose_and_a_launched_campaign(fresh_wh):
    draft = campaigns.create(MARKETING, "Draft", "sms", date(2026, 6, 1), date(2026, 6, 7), date(2026, 6, 30), EVERYONE)
    with pytest.raises(contact_exports.ContactExportError, match="Launch"):
        contact_exports.request(MARKETING, draft, "Summer offer by SMS gateway")
    with pytest.raises(contact_exports.ContactExportError, match="what the list is for"):
        contact_exports.request(MARKETING, launched(), "sms")


def test_the_list_offers_each_customer_the_next_category_of_their_preferences(fresh_wh):
    from lib.marketing import preferences

    cid = launched()
    preferences.refresh()
    frame = csv_rows(contact_exports.download(MARKETING, approved(cid)).data)
    ids = frame["customer_id"].astype(int).tolist()
    offers = preferences.next_category(ids)
    assert offers  # the fixture's buyers have recommendations
    assert dict(zip(ids, frame["next_category"].fillna("").astype(str), strict=True)) == {
        i: offers.get(i, "") for i in ids
    }


def test_extra_columns_can_be_added_but_never_contacts(fresh_wh, monkeypatch):
    monkeypatch.setattr(contact_exports, "COLUMN_PROVIDERS", [])
    export_id = approved(launched())
    contact_exports.register_column_provider(
        lambda ids: pd.DataFrame({"customer_id": ids, "next_category": ["beauty"] * len(ids)})
    )
    frame = csv_rows(contact_exports.download(MARKETING, export_id).data)
    assert list(frame.columns) == ["customer_id", "full_name", "mobile", "next_category"]
    assert frame["next_category"].tolist() == ["beauty"] * 3
    contact_exports.register_column_provider(
        lambda ids: pd.DataFrame({"customer_id": ids, "email": ["x@y.cn"] * len(ids)})
    )
    with pytest.raises(contact_exports.ContactExportError, match="may not add email"):
        contact_exports.download(MARKETING, export_id)


def test_the_release_gate_keeps_only_the_channels_columns():
    frame = pd.DataFrame(
        {"customer_id": [1], "full_name": ["客户1"], "mobile": ["+8613800000001"], "email": ["a@b.cn"]}
    )
    assert list(contact_release.release_contacts(MARKETING, frame, "sms").columns) == [
        "customer_id",
        "full_name",
        "mobile",
    ]
    assert list(contact_release.release_contacts(MARKETING, frame, "email").columns) == [
        "customer_id",
        "full_name",
        "email",
    ]


# ---------------------------------------------------------------- everything else stays masked

_PHONE = re.compile(r"\+86\s?1[3-9]\d{9}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@example\.com")


def test_nothing_else_about_campaigns_shows_a_contact(fresh_wh):
    """Privacy scan: the listings, request tables and audit entries other roles see carry no
    phone number or e-mail address, and the audience export stays masked for marketing."""
    cid = launched()
    export_id = approved(cid)
    contact_exports.download(MARKETING, export_id)
    texts = [
        campaigns.list_campaigns(AS_OF).to_csv(),
        contact_exports.of_campaign(cid).to_csv(),
        contact_exports.pending().to_csv(),
        campaigns.member_groups(cid).to_csv(),
        warehouse.read("SELECT * FROM audit_log").to_csv(),
        warehouse.read("SELECT * FROM contact_exports").to_csv(),
    ]
    for text in texts:
        assert not _PHONE.search(text) and not _EMAIL.search(text)
    from lib.marketing import audience

    masked = csv_rows(audience.export(MARKETING, EVERYONE, "sms").data)
    assert masked["mobile"].str.contains(r"\*\*\*\*").all()
    assert privacy.can_see_contacts(MARKETING) is False
