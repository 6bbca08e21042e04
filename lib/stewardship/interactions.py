"""Interactions: calls, visits, emails, chats, complaints, consults and notes staff log on a
customer, with an optional follow-up date; the customer's contact timeline; a user's open
follow-ups (issue #16, item 3).

Who: `log_interaction` (stewards and admins: they work the records and the review queue; see
docs/security.md) adds entries and works follow-ups; everybody who may open a customer
(`view_customer`) reads the timeline, with notes scrubbed like every free text
(privacy.mask_frame: ID numbers always, contacts unless the role may see them). Notes may name
people: erasure clears them (ERASURE_REGISTRY). Files of interactions load through the import
(kind `interactions`, lib/stewardship/contact_imports.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from lib.core import errors, normalize, validation, warehouse
from lib.security import audit, auth, privacy
from lib.stewardship.contact_imports import INTERACTION_TYPES, MAX_NOTE, OUTCOMES

# Channels offered on the form (imported rows keep their source's channel, lower-cased).
CHANNELS = ("phone", "store", "email", "wechat", "web", "app", "other")
TIMELINE_LIMIT = 500
CLOCK_SLACK = timedelta(minutes=5)  # a form filled in just now may be a few minutes "ahead"


class InteractionError(errors.ValidationError):
    """An interaction that cannot be logged or changed (message meant for people)."""


def _check(
    interaction_type: str, channel: str | None, outcome: str | None, note: str | None, occurred_at, follow_up_on, now
) -> dict:
    problems = []
    kind = (interaction_type or "").strip().lower()
    if kind not in INTERACTION_TYPES:
        problems.append(validation.FieldError("interaction_type", "interaction.type" if kind else "required.missing"))
    channel = (channel or "").strip().lower() or None
    if channel is not None and channel not in CHANNELS:
        problems.append(validation.FieldError("channel", "interaction.channel"))
    outcome = (outcome or "").strip().lower() or None
    if outcome is not None and outcome not in OUTCOMES:
        problems.append(validation.FieldError("outcome", "interaction.outcome"))
    note = normalize.text(normalize.strip_controls(note or "")) if note else None
    if note is not None and len(note) > MAX_NOTE:
        problems.append(validation.FieldError("note", "text.too_long"))
    when = occurred_at or now
    if isinstance(when, date) and not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day)
    if when > now + CLOCK_SLACK:
        problems.append(validation.FieldError("occurred_at", "date.future"))
    if follow_up_on is not None:
        if isinstance(follow_up_on, datetime):
            follow_up_on = follow_up_on.date()
        if follow_up_on < now.date():
            problems.append(validation.FieldError("follow_up_on", "follow_up.past"))
    if problems:
        raise validation.ValidationError(problems)
    return dict(
        interaction_type=kind, channel=channel, outcome=outcome, note=note, occurred_at=when, follow_up_on=follow_up_on
    )


@auth.pii_writer("log_interaction")
@warehouse.retrying
def add(
    user: auth.User,
    customer_id: int,
    interaction_type: str,
    *,
    channel: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    occurred_at: datetime | None = None,
    follow_up_on: date | None = None,
    owner: str | None = None,
) -> int:
    """Log one interaction (owner: the user unless another app user is named); returns its id.
    Raises ValidationError with field messages, InteractionError for a customer that cannot
    take one (unknown, merged, deleted, erased)."""
    auth.require(user, "log_interaction")
    now = datetime.now()
    clean = _check(interaction_type, channel, outcome, note, occurred_at, follow_up_on, now)
    owner = (owner or user.username).strip()
    cid = int(customer_id)
    with warehouse.transaction() as tx:
        state = tx.one("ixn_customer_state", customer_id=cid)
        if state is None:
            raise InteractionError(f"There is no customer {cid}.")
        if state["merged_into"] is not None:
            raise InteractionError(f"Customer {cid} was merged into {state['merged_into']}: log it there.")
        if state["deleted_at"] is not None or state["erased_at"] is not None:
            raise InteractionError(f"Customer {cid} is deleted or erased; nothing can be logged on it.")
        if owner != user.username and tx.one("user_by_name", username=owner) is None:
            raise validation.ValidationError([validation.FieldError("owner", "owner.unknown")])
        interaction_id = int(tx.scalar("ixn_next_id"))
        tx.run(
            "ixn_insert",
            interaction_id=interaction_id,
            customer_id=cid,
            owner=owner,
            created_by=user.username,
            created_at=now,
            **clean,
        )
        audit.record(
            tx,
            user,
            "interaction.add",
            "customer",
            cid,
            after={
                "interaction_id": interaction_id,
                "interaction_type": clean["interaction_type"],
                "channel": clean["channel"],
                "outcome": clean["outcome"],
                "owner": owner,
                "follow_up_on": clean["follow_up_on"].isoformat() if clean["follow_up_on"] else None,
            },
            detail={"note_chars": len(clean["note"] or "")},  # the note itself is personal data
        )
    return interaction_id


@auth.pii_reader("view_customer")
def timeline(user: auth.User, customer_id: int, limit: int = TIMELINE_LIMIT) -> pd.DataFrame:
    """The customer's interactions and the complaints and consults that arrived as events,
    newest first, notes scrubbed for the user's roles."""
    auth.require(user, "view_customer")
    frame = warehouse.read("ixn_timeline", customer_id=int(customer_id), limit=int(limit))
    return privacy.mask_frame(user, frame)


@auth.pii_reader("log_interaction")
def follow_ups(user: auth.User, today: date | None = None) -> pd.DataFrame:
    """The user's open follow-ups, the longest overdue first, with `overdue` (due before today)."""
    auth.require(user, "log_interaction")
    frame = warehouse.read("ixn_follow_ups", owner=user.username)
    today = today or date.today()
    frame.insert(2, "overdue", [pd.Timestamp(d).date() < today for d in frame["follow_up_on"]])
    return privacy.mask_frame(user, frame)


@auth.pii_writer("log_interaction")
@warehouse.retrying
def mark_done(user: auth.User, interaction_id: int) -> None:
    """Close a follow-up: its owner does (an admin may close anyone's)."""
    auth.require(user, "log_interaction")
    now = datetime.now()
    with warehouse.transaction() as tx:
        row = tx.one("ixn_by_id", interaction_id=int(interaction_id))
        if row is None or row["follow_up_on"] is None:
            raise InteractionError(f"Interaction {interaction_id} has no follow-up.")
        if row["owner"] != user.username and "admin" not in user.roles:
            raise InteractionError(f"This follow-up belongs to {row['owner']}.")
        if (
            row["follow_up_done_at"] is not None
            or tx.scalar("ixn_mark_done", interaction_id=int(interaction_id), done_at=now, username=user.username) == 0
        ):
            raise InteractionError("This follow-up is already done.")
        audit.record(
            tx,
            user,
            "interaction.follow_up_done",
            "customer",
            row["customer_id"],
            before={"follow_up_done_at": None},
            after={"follow_up_done_at": now.isoformat(timespec="seconds")},
            detail={"interaction_id": int(interaction_id), "follow_up_on": str(row["follow_up_on"])},
        )
