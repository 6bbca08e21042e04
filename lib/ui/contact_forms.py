"""The 360° page's contact tabs (issue #16): the unified timeline of interactions, complaints
and consults; the "Log interaction" form; the single-consent form. Widgets only: every read
and write is a lib/ call that checks the role (interactions.*, privacy.record_consent)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from lib.core import i18n, validation
from lib.core.i18n import t
from lib.security import auth, privacy
from lib.stewardship import contact_imports, interactions
from lib.ui.errors import shown

TIMELINE_CODES = {
    "origin": "ixn.origin",
    "interaction_type": ("ixn.type", "dash.event"),
    "channel": ("ixn.channel", "dash.channel"),
    "outcome": "ixn.outcome",
    "owner": "dash.actor",
}


def timeline(user: auth.User, customer_id: int) -> None:
    """Interactions and the complaints and consults that arrived as events, newest first."""
    frame = interactions.timeline(user, customer_id)
    if frame.empty:
        st.caption(t("ixn.c360.no_timeline"))
        return
    frame = frame.drop(columns=["entry_id"]).assign(  # dates as text: an empty one is blank, not "None"
        occurred_at=[_when(v, 16) for v in frame["occurred_at"]],
        follow_up_on=[_when(v, 10) for v in frame["follow_up_on"]],
        follow_up_done_at=[_when(v, 16) for v in frame["follow_up_done_at"]],
    )
    st.dataframe(
        i18n.display_frame(frame, TIMELINE_CODES, headers="ixn.col"),
        hide_index=True,
        width="stretch",
    )


def _when(value, width: int) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value))[:width]


def _flash(key: str) -> None:
    """The message a save left before rerunning (so every tab shows the saved state)."""
    message = st.session_state.pop(key, None)
    if message:
        st.success(message)


def _saved(key: str, message: str) -> None:
    st.session_state[key] = message
    st.rerun()


def _field_errors(exc: validation.ValidationError) -> None:
    for field, message in exc.by_field().items():
        st.error(f"{validation.field_label(field)}: {message}")


def log_interaction_form(user: auth.User, customer_id: int) -> None:
    """The "Log interaction" form (roles with log_interaction; lib refuses the others)."""
    st.caption(t("ixn.c360.log_help"))
    _flash("ixn_flash")
    with st.form(f"ixn_form_{customer_id}", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox(
            t("ixn.form.type"),
            contact_imports.INTERACTION_TYPES,
            format_func=lambda k: t(f"ixn.type.{k}"),
            key="ixn_type",
        )
        channel = c2.selectbox(
            t("ixn.form.channel"),
            [None, *interactions.CHANNELS],
            format_func=lambda c: t(f"ixn.channel.{c}") if c else t("ixn.form.none"),
            key="ixn_channel",
        )
        outcome = c3.selectbox(
            t("ixn.form.outcome"),
            [None, *contact_imports.OUTCOMES],
            format_func=lambda o: t(f"ixn.outcome.{o}") if o else t("ixn.form.none"),
            key="ixn_outcome",
        )
        now = datetime.now()
        d1, d2 = st.columns(2)
        day = d1.date_input(t("ixn.form.date"), value=now.date(), key="ixn_date")  # lib refuses a future time
        clock = d2.time_input(t("ixn.form.time"), value=now.time().replace(second=0, microsecond=0), key="ixn_time")
        note = st.text_area(t("ixn.form.note"), max_chars=contact_imports.MAX_NOTE, key="ixn_note")
        f1, f2 = st.columns(2)
        follow = f1.checkbox(t("ixn.form.follow_up"), key="ixn_follow")
        due = f2.date_input(t("ixn.form.follow_up_on"), value=date.today() + timedelta(days=1), key="ixn_due")
        saved = st.form_submit_button(t("ixn.form.save"), type="primary")
    if saved:
        with shown():
            try:
                new_id = interactions.add(
                    user,
                    customer_id,
                    kind,
                    channel=channel,
                    outcome=outcome,
                    note=note,
                    occurred_at=datetime.combine(day, clock),
                    follow_up_on=due if follow else None,
                )
            except validation.ValidationError as exc:
                _field_errors(exc)
            else:
                _saved("ixn_flash", t("ixn.form.saved", id=new_id))


def consent_form(user: auth.User, customer_id: int) -> None:
    """Record one consent change (roles with edit_consent), through privacy.record_consent."""
    st.caption(t("ixn.consent.help"))
    _flash("consent_flash")
    with st.form(f"consent_form_{customer_id}", clear_on_submit=True):
        c1, c2 = st.columns(2)
        channel = c1.selectbox(
            t("ixn.consent.channel"),
            privacy.CHANNELS,
            format_func=lambda c: t(f"admin.privacy.channel.{c}"),
            key="c360_consent_channel",
        )
        status = c2.radio(
            t("ixn.consent.status"),
            privacy.CONSENT_STATUSES,
            format_func=lambda s: t(f"admin.privacy.status.{s}"),
            horizontal=True,
            key="c360_consent_status",
        )
        source = st.text_input(t("ixn.consent.source"), help=t("ixn.consent.source_help"), key="c360_consent_source")
        evidence = st.text_input(
            t("ixn.consent.evidence"), help=t("ixn.consent.evidence_help"), key="c360_consent_evidence"
        )
        saved = st.form_submit_button(t("ixn.consent.save"), type="primary")
    if saved:
        with shown():
            privacy.record_consent(user, customer_id, channel, status, source, evidence=evidence or None)
            _saved(
                "consent_flash",
                t(
                    "ixn.consent.saved",
                    channel=t(f"admin.privacy.channel.{channel}"),
                    status=t(f"admin.privacy.status.{status}"),
                ),
            )
