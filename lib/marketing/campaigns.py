"""Campaigns with a control group (issue #18).

A campaign is a saved segment (or the churn page's at-risk list, for win-back) + a channel +
dates: first and last day of sending, and the last day of the evaluation window. It starts as a
draft; launching freezes its members (the live customers of the segment at that moment) and
draws the control group (lib/core/holdout.py: round(share x members) members, reproducible from
the campaign id, never exported). After the window, lib/marketing/uplift.py compares treatment
and control. Statuses shown: draft, awaiting approval (a contact export waits for a second
person), launched (window open), finished (window over, results final).

Every write checks `manage_campaigns` and is audited; nothing here returns personal data
(members are ids; contact values go out only through lib/marketing/contact_exports.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from lib.core import errors, holdout, settings, warehouse
from lib.marketing import segments, uplift
from lib.marketing.queries import compose, fast_frame
from lib.security import audit, auth

CHANNELS = ("sms", "email", "phone")
KINDS = ("segment", "winback")
STATUSES = ("draft", "awaiting_approval", "launched", "finished")
AT_RISK_TIERS = ("high",)
MAX_NAME = 80


class CampaignError(errors.ValidationError):
    """A campaign that cannot be created or launched (message meant for people)."""


@dataclass(frozen=True)
class Plan:
    name: str
    channel: str
    start_date: date
    end_date: date
    eval_end: date
    holdout_share: float


def _day(value: Any, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise CampaignError(f"The {what} must be a date (YYYY-MM-DD).") from None


def _plan(name: Any, channel: Any, start_date: Any, end_date: Any, eval_end: Any, share: Any) -> Plan:
    if not isinstance(name, str) or not name.strip():
        raise CampaignError("A campaign needs a name.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise CampaignError(f"Campaign names may be at most {MAX_NAME} characters.")
    if channel not in CHANNELS:
        raise CampaignError(f"The channel must be one of {', '.join(CHANNELS)}.")
    start, end, stop = _day(start_date, "start date"), _day(end_date, "end date"), _day(eval_end, "evaluation end")
    if end < start:
        raise CampaignError("The campaign cannot end before it starts.")
    if stop < end:
        raise CampaignError("The evaluation window must last at least until the campaign ends.")
    share = float(settings.get("campaign_holdout_share") if share is None else share)
    if not 0.01 <= share <= 0.5:
        raise CampaignError("The control group must be between 1 % and 50 % of the members.")
    return Plan(name, channel, start, end, stop, share)


@warehouse.retrying
def create(
    user: auth.User,
    name: str,
    channel: str,
    start_date: date,
    end_date: date,
    eval_end: date,
    segment: Any,
    holdout_share: float | None = None,
) -> int:
    """A draft campaign on a saved segment (name) or a segment definition; returns its id.
    Its members are frozen at launch."""
    auth.require(user, "manage_campaigns")
    plan = _plan(name, channel, start_date, end_date, eval_end, holdout_share)
    segment_name, definition = segments.resolve(segment)
    with warehouse.transaction() as tx:
        campaign_id = int(
            tx.scalar(
                "campaign_insert",
                campaign_name=plan.name,
                kind="segment",
                segment_name=segment_name,
                definition=json.dumps(definition, ensure_ascii=False),
                channel=plan.channel,
                start_date=plan.start_date,
                end_date=plan.end_date,
                eval_end=plan.eval_end,
                holdout_share=plan.holdout_share,
                created_by=user.username,
            )
        )
        audit.record(
            tx,
            user,
            "campaign.create",
            "campaign",
            campaign_id,
            after={**plan.__dict__, "kind": "segment", "segment": segment_name, "definition": definition},
        )
    return campaign_id


@warehouse.retrying
def create_winback(
    user: auth.User,
    name: str,
    channel: str,
    start_date: date,
    end_date: date,
    eval_end: date,
    tiers: tuple[str, ...] | list[str] = AT_RISK_TIERS,
    holdout_share: float | None = None,
) -> int:
    """A draft win-back campaign holding the churn page's at-risk list (live customers whose
    churn risk tier is in `tiers`) as it is now; returns its id."""
    auth.require(user, "manage_campaigns")
    plan = _plan(name, channel, start_date, end_date, eval_end, holdout_share)
    tiers = [t for t in tiers if t in ("high", "medium", "low")] or list(AT_RISK_TIERS)
    with warehouse.transaction() as tx:
        ids = tx.fast_df("campaign_at_risk_ids", tiers=tiers)["customer_id"].astype("int64").tolist()
        if not ids:
            raise CampaignError("The at-risk list is empty: score churn risk first (Churn page).")
        campaign_id = int(
            tx.scalar(
                "campaign_insert",
                campaign_name=plan.name,
                kind="winback",
                segment_name=None,
                definition=json.dumps({"churn_risk_tiers": tiers}),
                channel=plan.channel,
                start_date=plan.start_date,
                end_date=plan.end_date,
                eval_end=plan.eval_end,
                holdout_share=plan.holdout_share,
                created_by=user.username,
            )
        )
        _insert_members(tx, campaign_id, ids)
        audit.record(
            tx,
            user,
            "campaign.create",
            "campaign",
            campaign_id,
            after={**plan.__dict__, "kind": "winback", "tiers": tiers},
            detail={"at_risk_customers": len(ids)},
        )
    return campaign_id


def _insert_members(tx: warehouse.Tx, campaign_id: int, ids: list[int]) -> None:
    """A draft's list (win-back): members without a group yet (holdout NULL)."""
    frame = pd.DataFrame(
        {
            "campaign_id": pd.Series([campaign_id] * len(ids), dtype="int64"),
            "customer_id": pd.Series(ids, dtype="int64"),
            "holdout": pd.Series([None] * len(ids), dtype="boolean"),
        }
    )
    tx.register("campaign_members_new", frame)
    try:
        tx.run("campaign_members_from_frame")
    finally:
        tx.unregister("campaign_members_new")


def _freeze_members(tx: warehouse.Tx, campaign_id: int, ids: pd.Series, share: float) -> int:
    """Store the members with their group; returns the control group's size. The draw is
    lib/core/holdout.py's, run in SQL (campaign_members_launch_from_frame)."""
    control = holdout.control_size(len(ids), share)
    tx.register("campaign_members_new", pd.DataFrame({"customer_id": ids.astype("int64").to_numpy()}))
    try:
        tx.run("campaign_members_launch_from_frame", campaign_id=campaign_id, control=control)
    finally:
        tx.unregister("campaign_members_new")
    return control


@warehouse.retrying
def launch(user: auth.User, campaign_id: int, as_of: date | None = None) -> dict:
    """Freeze the members (live customers of the segment, or the draft's at-risk list still
    live) and draw the control group; the campaign becomes `launched`. Returns the counts."""
    auth.require(user, "manage_campaigns")
    cid = int(campaign_id)
    with warehouse.transaction() as tx:
        row = tx.one("campaign_by_id", campaign_id=cid)
        if row is None:
            raise CampaignError(f"There is no campaign {cid}.")
        if row["status"] != "draft":
            raise CampaignError(f"Campaign {cid} was already launched.")
        if row["kind"] == "winback":
            ids = tx.fast_df("campaign_live_member_ids", campaign_id=cid)["customer_id"]
        else:
            compiled = segments.compile(segments.validate(json.loads(row["definition"])))
            sql = compose("segment_member_ids", {"segment_filter": compiled.sql})
            ids = fast_frame(tx, sql, as_of=as_of or settings.as_of(), **compiled.params)["customer_id"]
        if len(ids) < 2:
            raise CampaignError("A campaign needs at least two live members (one to treat, one to hold out).")
        tx.run("campaign_members_delete", campaign_id=cid)
        control = _freeze_members(tx, cid, ids, float(row["holdout_share"]))
        now = datetime.now()
        tx.run("campaign_set_launched", campaign_id=cid, launched_by=user.username, launched_at=now)
        counts = {"members": len(ids), "treatment": len(ids) - control, "control": control}
        audit.record(
            tx,
            user,
            "campaign.launch",
            "campaign",
            cid,
            before={"status": "draft"},
            after={"status": "launched", "launched_at": now},
            detail={
                **counts,
                "holdout_share": float(row["holdout_share"]),
                "holdout": "sha256(campaign:customer) rank",
            },
        )
    return counts


def display_status(row: dict, as_of: date) -> str:
    """draft | awaiting_approval | launched | finished (see the module docstring)."""
    if row["status"] == "draft":
        return "draft"
    eval_end = _day(row["eval_end"], "evaluation end")
    if as_of >= eval_end:
        return "finished"
    if int(row.get("pending_exports") or 0) > 0:
        return "awaiting_approval"
    return "launched"


def list_campaigns(as_of: date | None = None) -> pd.DataFrame:
    """Every campaign with its group sizes, export requests and status for display."""
    day = as_of or settings.as_of()
    frame = warehouse.read("campaigns_all")
    frame["display_status"] = [display_status(r, day) for r in frame.to_dict("records")]
    return frame


def get(campaign_id: int) -> dict | None:
    row = warehouse.one("campaign_by_id", campaign_id=int(campaign_id))
    if row is not None and row.get("definition"):
        row["definition"] = json.loads(row["definition"])
    return row


def member_groups(campaign_id: int) -> pd.DataFrame:
    """(customer_id, holdout) of a campaign: ids only, for checks and the demo's docs."""
    return warehouse.read("campaign_member_ids", campaign_id=int(campaign_id))


def results(campaign_id: int, as_of: date | None = None) -> uplift.Result:
    """Treatment vs control over the campaign's evaluation window (start_date .. eval_end)."""
    row = get(campaign_id)
    if row is None:
        raise CampaignError(f"There is no campaign {int(campaign_id)}.")
    if row["status"] == "draft":
        raise CampaignError("A draft has no results: launch it first.")
    return uplift.measure(
        int(campaign_id), _day(row["start_date"], "start"), _day(row["eval_end"], "end"), as_of or settings.as_of()
    )
