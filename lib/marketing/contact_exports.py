"""Approved contact lists for a launched campaign (issue #18).

A marketer (`export_contacts`) asks for the contact list of a launched campaign, with a
purpose. When the run-time setting `contact_export_approval` is on (the default), a second
person holding `approve_contact_export` (manager or admin), never the requester, approves or
rejects it. The approval opens a download window of `contact_export_hours` (24 by default);
after it the list is no longer available from the app.

No file is kept: each download generates the list from the campaign's frozen treatment
members, at that moment: only customers who are live (not merged, deleted or erased), whose
latest consent on the campaign's channel is `granted`, and whose contact is valid; only the
columns the channel needs (id, name, and the mobile for SMS/phone or the e-mail for e-mail),
released through lib/security/contact_release.py. The control group is never in it. A
withdrawal or an erasure after the approval is therefore honoured, and no contact list sits
on disk or in the warehouse waiting to expire (docs/security.md, "Contact exports").

Every request, decision, refusal and download is audited; a download's entry carries its row
count and the SHA-256 of the exact bytes handed out, so a file found later can be matched to it.

Other areas may add non-contact columns (e.g. a "next category to offer") with
`register_column_provider`: a function of the exported customer ids returning a frame keyed by
customer_id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from lib.core import errors, settings, warehouse
from lib.marketing import campaigns
from lib.marketing.queries import compose, fast_frame
from lib.security import audit, auth, contact_release, exports

MIN_PURPOSE = 10
# channel -> segment_base's consent-and-validity filter (a whitelist: the only fragments spliced)
_CHANNEL_FILTER = {
    "sms": "b.consent_sms AND b.has_valid_mobile",
    "email": "b.consent_email AND b.has_valid_email",
    "phone": "b.consent_phone AND b.has_valid_mobile",
}
_CONTACT_COLUMNS = {"mobile", "email", "phone", "address", "id_number"}

ColumnProvider = Callable[[list[int]], pd.DataFrame]
COLUMN_PROVIDERS: list[ColumnProvider] = []


def register_column_provider(provider: ColumnProvider) -> ColumnProvider:
    """Add extra columns to every contact export: `provider(customer_ids)` returns a frame with
    `customer_id` and the extra columns (no contact data: those are refused)."""
    if provider not in COLUMN_PROVIDERS:
        COLUMN_PROVIDERS.append(provider)
    return provider


def _next_category_column(customer_ids: list[int]) -> pd.DataFrame:
    """The next category to offer each customer (lib/marketing/preferences.py), so a campaign's
    message can be personalised; empty for a customer without a recommendation."""
    from lib.marketing import preferences  # a sibling area module; only needed on download

    offers = preferences.next_category(customer_ids)
    return pd.DataFrame({"customer_id": list(offers), "next_category": list(offers.values())})


register_column_provider(_next_category_column)


class ContactExportError(errors.ValidationError):
    """A request that cannot be made (message meant for people)."""


class ExportNotAvailable(errors.NotAllowedError):
    """A download refused: not approved, rejected, expired, or not the requester's."""


class SelfApproval(errors.NotAllowedError):
    """The requester tried to approve their own export."""


@dataclass(frozen=True)
class ContactFile:
    data: bytes
    rows: int
    sha256: str
    file_name: str
    mime: str


def approval_required() -> bool:
    return bool(settings.get("contact_export_approval"))


def window_hours() -> float:
    return float(settings.get("contact_export_hours"))


@warehouse.retrying
def request(user: auth.User, campaign_id: int, purpose: str) -> int:
    """Ask for a launched campaign's contact list; returns the request's id. Approved at once
    (by nobody) when the setting says approval is not required."""
    auth.require(user, "export_contacts")
    purpose = " ".join(str(purpose or "").split())
    if len(purpose) < MIN_PURPOSE:
        raise ContactExportError(
            f"Say what the list is for (at least {MIN_PURPOSE} characters).",
            key="campaigns.export.purpose_short",
            n=MIN_PURPOSE,
        )
    purpose = purpose[:500]
    row = campaigns.get(int(campaign_id))
    if row is None:
        raise ContactExportError(f"There is no campaign {int(campaign_id)}.")
    if row["status"] != "launched":
        raise ContactExportError("Launch the campaign first: its members and control group are frozen at launch.")
    now = datetime.now()
    auto = not approval_required()
    with warehouse.transaction() as tx:
        export_id = int(
            tx.scalar(
                "contact_export_insert",
                campaign_id=int(campaign_id),
                channel=row["channel"],
                purpose=purpose,
                status="approved" if auto else "requested",
                requested_by=user.username,
                decided_by=None,
                decided_at=now if auto else None,
                expires_at=now + timedelta(hours=window_hours()) if auto else None,
            )
        )
        audit.record(
            tx,
            user,
            "contacts.request",
            "contact_export",
            export_id,
            detail={
                "campaign_id": int(campaign_id),
                "channel": row["channel"],
                "purpose": purpose,
                "approval_required": not auto,
            },
        )
    return export_id


def _decide(user: auth.User, export_id: int, status: str) -> dict:
    now = datetime.now()
    with warehouse.transaction() as tx:
        row = tx.one("contact_export_by_id", export_id=int(export_id))
        if row is None:
            raise ContactExportError(f"There is no contact export {int(export_id)}.")
        if row["requested_by"] == user.username:
            audit.record(  # its own transaction: the refusal stays recorded
                None,
                user,
                "contacts.approve_refused",
                "contact_export",
                int(export_id),
                detail={"reason": "requester", "campaign_id": int(row["campaign_id"])},
            )
            raise SelfApproval("A contact export must be approved by someone other than the person who asked for it.")
        if row["status"] != "requested":
            raise ContactExportError(f"Contact export {int(export_id)} was already {row['status']}.")
        expires = now + timedelta(hours=window_hours()) if status == "approved" else None
        tx.run(
            "contact_export_decide",
            export_id=int(export_id),
            status=status,
            decided_by=user.username,
            decided_at=now,
            expires_at=expires,
        )
        audit.record(
            tx,
            user,
            "contacts.approve" if status == "approved" else "contacts.reject",
            "contact_export",
            int(export_id),
            before={"status": "requested"},
            after={"status": status, "expires_at": expires},
            detail={"campaign_id": int(row["campaign_id"]), "requested_by": row["requested_by"]},
        )
    return {**row, "status": status, "decided_by": user.username, "decided_at": now, "expires_at": expires}


@warehouse.retrying
def approve(user: auth.User, export_id: int) -> dict:
    """Approve someone else's request: its download window opens now."""
    auth.require(user, "approve_contact_export")
    return _decide(user, export_id, "approved")


@warehouse.retrying
def reject(user: auth.User, export_id: int) -> dict:
    """Reject someone else's request: it can never be downloaded."""
    auth.require(user, "approve_contact_export")
    return _decide(user, export_id, "rejected")


def refusal(row: dict, username: str, now: datetime) -> str | None:
    """Why this user may not download this export now (None: they may)."""
    if row["requested_by"] != username:
        return "not_requester"
    if row["status"] == "requested":
        return "not_approved"
    if row["status"] != "approved":
        return row["status"]
    if row["expires_at"] is None or now >= row["expires_at"]:
        return "expired"
    return None


def _extra_columns(frame: pd.DataFrame) -> pd.DataFrame:
    ids = frame["customer_id"].astype("int64").tolist()
    for provider in COLUMN_PROVIDERS:
        extra = provider(ids)
        if extra is None or "customer_id" not in extra.columns:
            continue
        clash = (set(extra.columns) - {"customer_id"}) & (_CONTACT_COLUMNS | set(frame.columns))
        if clash:
            raise ContactExportError(f"An extra column provider may not add {', '.join(sorted(clash))}.")
        frame = frame.merge(extra.drop_duplicates("customer_id"), on="customer_id", how="left")
    return frame


@auth.pii_reader("export_contacts")
def download(user: auth.User, export_id: int) -> ContactFile:
    """The approved contact list as CSV bytes, generated now from the frozen treatment
    members (consent and validity as of now); audited with row count and SHA-256."""
    auth.require(user, "export_contacts")
    return _download(user, int(export_id))


@warehouse.retrying
def _download(user: auth.User, export_id: int) -> ContactFile:
    now = datetime.now()
    with warehouse.transaction() as tx:
        row = tx.one("contact_export_by_id", export_id=export_id)
        if row is None:
            raise ContactExportError(f"There is no contact export {export_id}.")
        why = refusal(row, user.username, now)
        if why is not None:
            refused = {"reason": why, "campaign_id": int(row["campaign_id"])}
            audit.record(None, user, "contacts.export_refused", "contact_export", export_id, detail=refused)
            raise ExportNotAvailable(
                {
                    "not_requester": "Only the person who asked for this contact list may download it.",
                    "not_approved": "This contact list has not been approved yet.",
                    "rejected": "This contact list was rejected.",
                    "expired": "This contact list has expired; ask for a new one.",
                }.get(why, f"This contact list is {why}.")
            )
        channel = row["channel"]
        sql = compose(
            "contact_export_rows",
            {
                "channel_filter": _CHANNEL_FILTER[channel],
                "contact_column": contact_release.CHANNEL_CONTACT[channel],
            },
        )
        raw = fast_frame(tx, sql, campaign_id=int(row["campaign_id"]), as_of=settings.as_of())
        frame = _extra_columns(contact_release.release_contacts(user, raw, channel))
        data, mime = exports.encode(frame, "csv")
        digest = hashlib.sha256(data).hexdigest()
        tx.run("contact_export_downloaded", export_id=export_id, rows=len(frame), sha256=digest)
        audit.record(
            tx,
            user,
            "contacts.export",
            "contact_export",
            export_id,
            detail={
                "campaign_id": int(row["campaign_id"]),
                "channel": channel,
                "purpose": row["purpose"],
                "approved_by": row["decided_by"],
                "rows": len(frame),
                "sha256": digest,
                "columns": [str(c) for c in frame.columns],
                "format": "csv",
                "expires_at": row["expires_at"],
            },
        )
    name = f"campaign-{int(row['campaign_id'])}-{channel}-contacts-{export_id}.csv"
    return ContactFile(data, len(frame), digest, name, mime)


def of_campaign(campaign_id: int) -> pd.DataFrame:
    """A campaign's export requests (who, why, status, window; no contact data)."""
    return warehouse.read("contact_exports_of_campaign", campaign_id=int(campaign_id))


def pending() -> pd.DataFrame:
    """Requests waiting for a decision, oldest first."""
    return warehouse.read("contact_exports_pending")
