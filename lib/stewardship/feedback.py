"""Customer feedback: survey responses entered by hand, read on the 360° page, and the steward's
worklist of detractors without a follow-up.

A response has a scale and a score within it (validation.FEEDBACK_SCALES: NPS 0-10, CSAT
1-5), a survey name, an optional comment, a time and a channel. Files of responses load
through the importer (kind ``feedback``: same mapping, validation, quarantine and idempotence
as the other kinds); staff add single responses here (``add_feedback``). NPS and CSAT are
computed in lib/dashboards/feedback.py and defined in docs/metrics.md.

A detractor (latest NPS response 0-6) stays on the worklist until a steward marks it handled
(``mark_handled``: who, when and a note, audited). Comments and notes are free text about a
person: readers mask phone and ID numbers in them for roles that may not see contacts, and an
erasure clears them (lib/security/privacy.ERASURE_REGISTRY).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import pandas as pd

from lib.core import errors, normalize, validation, warehouse
from lib.security import audit, auth, privacy

SCALES = tuple(validation.FEEDBACK_SCALES)
PROMOTER_MIN, DETRACTOR_MAX = 9, 6  # NPS: 9-10 promoters, 0-6 detractors (7-8 passives)
SATISFIED_MIN = 4  # CSAT: 4-5 on the 1-5 scale counts as satisfied
MAX_COMMENT = 2000
MAX_NOTE = 500
CUSTOMER_LIMIT = 50  # responses shown on the 360° page


class FeedbackError(errors.ValidationError):
    """A response or follow-up that cannot be saved, with a message for people."""


def nps_category(score) -> str:
    """promoter / passive / detractor for an NPS score (no_response for none)."""
    if score is None or pd.isna(score):
        return "no_response"
    score = int(score)
    return "promoter" if score >= PROMOTER_MIN else "detractor" if score <= DETRACTOR_MAX else "passive"


def _clean(values: dict) -> dict:
    """Validated fields of a hand-entered response, or ValidationError naming each field."""
    problems: list[validation.FieldError] = []
    clean: dict = {}
    try:
        clean["scale"] = validation.feedback_scale(values.get("scale"))
        if clean["scale"] is None:
            raise validation.FieldError("scale", "required.missing")
    except validation.FieldError as exc:
        problems.append(exc)
    if "scale" in clean:
        try:
            clean["score"] = validation.feedback_score(clean["scale"], values.get("score"))
        except validation.FieldError as exc:
            problems.append(exc)
    for name, limit in (("survey", 100), ("comment", MAX_COMMENT), ("channel", 40)):
        try:
            clean[name] = validation.short_text(values.get(name), name, limit)
        except validation.FieldError as exc:
            problems.append(exc)
    when = values.get("responded_at")
    if when is None or when == "":
        clean["responded_at"] = datetime.now().replace(microsecond=0)
    else:
        try:
            clean["responded_at"] = when if isinstance(when, datetime) else validation.timestamp(when, "responded_at")
        except validation.FieldError as exc:
            problems.append(exc)
    if problems:
        raise validation.ValidationError(problems)
    clean["survey"] = clean.get("survey") or clean["scale"]
    clean["channel"] = (clean.get("channel") or "").lower() or None
    return clean


@auth.pii_writer("record_feedback")
@warehouse.retrying
def add_feedback(user: auth.User, customer_id: int, values: dict) -> int:
    """Record one response for a live customer; returns its feedback_id. Audited with the
    scale, score and survey (never the comment: the log keeps no free text about a person)."""
    auth.require(user, "record_feedback")
    clean = _clean(values or {})
    with warehouse.transaction() as tx:
        row = tx.one("fb_customer_live", customer_id=int(customer_id))
        if row is None or row["deleted_at"] is not None:
            raise FeedbackError(f"There is no customer {customer_id}.")
        target = int(row["merged_into"] or row["customer_id"])
        feedback_id = int(
            tx.scalar(
                "fb_insert_one",
                customer_id=target,
                source_record_id="manual:" + uuid.uuid4().hex,
                username=user.username,
                **clean,
            )
        )
        audit.record(
            tx,
            user,
            "feedback.add",
            "customer",
            target,
            after={k: clean[k] for k in ("survey", "scale", "score", "responded_at", "channel")},
            detail={"feedback_id": feedback_id, "has_comment": bool(clean.get("comment"))},
        )
    return feedback_id


@auth.pii_writer("record_feedback")
@warehouse.retrying
def mark_handled(user: auth.User, feedback_id: int, note: str) -> None:
    """Mark a detractor's response as followed up (who, when, what was done); audited."""
    auth.require(user, "record_feedback")
    text = normalize.text(note)
    if not text:
        raise FeedbackError("Say what was done to follow up.")
    if len(text) > MAX_NOTE:
        raise validation.ValidationError([validation.FieldError("handled_note", "text.too_long")])
    with warehouse.transaction() as tx:
        row = tx.one("fb_by_id", feedback_id=int(feedback_id))
        if row is None:
            raise FeedbackError(f"There is no response {feedback_id}.")
        if row["handled_at"] is not None:
            raise FeedbackError(f"Response {feedback_id} was already handled by {row['handled_by']}.")
        tx.run("fb_mark_handled", feedback_id=int(feedback_id), username=user.username, note=text, now=datetime.now())
        audit.record(
            tx,
            user,
            "feedback.handle",
            "customer",
            row["customer_id"],
            detail={"feedback_id": int(feedback_id), "score": int(row["score"]), "scale": row["scale"]},
        )


@auth.pii_reader("view_customer")
def customer_feedback(user: auth.User, customer_id: int, limit: int = CUSTOMER_LIMIT) -> pd.DataFrame:
    """The customer's responses, newest first, with comments and notes masked for the user."""
    auth.require(user, "view_customer")
    frame = warehouse.read("fb_of_customer", customer_id=int(customer_id), limit=int(limit))
    return privacy.mask_frame(user, frame)


def latest_scores(frame: pd.DataFrame) -> dict:
    """From customer_feedback's rows: the latest NPS and CSAT response (score, time, survey)
    and the number of responses per scale."""
    out: dict = {}
    for scale in SCALES:
        rows = frame[frame["scale"] == scale]
        out[scale] = {
            "score": None if rows.empty else int(rows["score"].iloc[0]),
            "responded_at": None if rows.empty else rows["responded_at"].iloc[0],
            "survey": None if rows.empty else rows["survey"].iloc[0],
            "responses": len(rows),
        }
    out["nps"]["category"] = nps_category(out["nps"]["score"])
    return out


@auth.pii_reader("record_feedback")
def worklist(user: auth.User, handled: bool = False, limit: int = 500) -> pd.DataFrame:
    """Customers whose latest NPS response is a detractor's (0-6), not yet handled (or, with
    `handled`, those handled), newest first; names, comments and notes masked for the user."""
    auth.require(user, "record_feedback")
    frame = warehouse.read("fb_worklist", handled=bool(handled), limit=int(limit))
    return privacy.mask_frame(user, frame)


def open_detractors() -> int:
    """How many detractors wait for a follow-up (a count, no personal data)."""
    return int(warehouse.scalar("fb_worklist_count") or 0)
