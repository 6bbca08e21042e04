"""Feedback on the pages: the Overview's NPS / CSAT cards and trend, the 360° page's scores,
responses and hand-entry form, and the stewards' detractor worklist. Pages call one function
each; the figures come from lib/dashboards/feedback.py and lib/stewardship/feedback.py."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from lib.core import i18n
from lib.core.i18n import t
from lib.dashboards import charts, feedback as fb_metrics
from lib.dashboards.filters import Filters
from lib.security import auth
from lib.stewardship import feedback
from lib.ui.cache import cached
from lib.ui.errors import shown
from lib.ui.widgets import chart, fmt_int, fmt_pct, fmt_times, kpi_row

CODES = {"scale": "fb.scale", "channel": ("fb.channel", "dash.channel"), "survey": "fb.survey"}


@cached
def _summary(f: Filters) -> dict:
    return fb_metrics.summary(f)


@cached
def _monthly(f: Filters) -> pd.DataFrame:
    return fb_metrics.monthly(f)


def fmt_nps(value) -> str:
    return "—" if value is None else f"{value:+.0f}"


def overview_cards(f: Filters) -> None:
    """Two cards: NPS and CSAT of the period, each with its response count and the change
    against the previous period."""
    s = _summary(f)
    n, c = s["nps"], s["csat"]
    kpi_row(
        [
            {
                "label": t("fb.card.nps", n=fmt_int(n["responses"])),
                "value": fmt_nps(n["value"]),
                "delta": None if n["change"] is None else t("fb.card.points", value=f"{n['change']:+.1f}"),
                "help": t("fb.def.nps"),
            },
            {
                "label": t("fb.card.csat", n=fmt_int(c["responses"])),
                "value": fmt_pct(c["value"]),
                "delta": None if c["change"] is None else t("dash.kpi.pp", value=f"{100 * c['change']:+.1f}"),
                "help": t("fb.def.csat"),
            },
        ]
    )


def overview_trend(user: auth.User, f: Filters, params: dict) -> None:
    """The monthly NPS / CSAT trend with its data download."""
    st.caption(t("fb.def.trend"))
    frame = _monthly(f)
    chart(user, charts.feedback_trend(frame), frame, "monthly_feedback", "trend_feedback", filters=params)


# ---------------------------------------------------------------- Customer 360°


def customer_section(user: auth.User, customer_id: int) -> None:
    """Latest NPS and CSAT, the responses with their comments (masked per role), and for
    stewards a form to record a response."""
    frame = feedback.customer_feedback(user, customer_id)
    latest = feedback.latest_scores(frame)
    nps, csat = latest["nps"], latest["csat"]
    kpi_row(
        [
            {
                "label": t("fb.c360.latest_nps"),
                "value": "—" if nps["score"] is None else f"{nps['score']} · {t('fb.category.' + nps['category'])}",
                "help": t("fb.c360.latest_help", n=fmt_int(nps["responses"])),
            },
            {
                "label": t("fb.c360.latest_csat"),
                "value": "—" if csat["score"] is None else f"{csat['score']} / 5",
                "help": t("fb.c360.latest_help", n=fmt_int(csat["responses"])),
            },
        ]
    )
    if len(frame):
        shown_frame = frame.drop(columns=["feedback_id"]).assign(
            responded_at=fmt_times(frame["responded_at"], "%Y-%m-%d %H:%M"),
            handled_at=fmt_times(frame["handled_at"], "%Y-%m-%d %H:%M", ""),
        )
        st.dataframe(i18n.display_frame(shown_frame, CODES, headers="fb.col"), hide_index=True)
    else:
        st.caption(t("fb.c360.none"))
    if auth.can(user, "record_feedback"):
        _entry_form(user, customer_id)


def _entry_form(user: auth.User, customer_id: int) -> None:
    done = st.session_state.pop("fb_saved", None)
    if done:
        st.success(t("fb.form.saved", id=done))
    with st.expander(t("fb.form.title")), st.form("fb_form", clear_on_submit=True):
        c1, c2, c3 = st.columns(3)
        scale = c1.selectbox(t("fb.col.scale"), list(feedback.SCALES), format_func=lambda s: t(f"fb.scale.{s}"))
        score = c2.number_input(t("fb.col.score"), min_value=0, max_value=10, value=None, step=1)
        channel = c3.selectbox(t("fb.col.channel"), list(FORM_CHANNELS), format_func=lambda c: t(f"fb.channel.{c}"))
        survey = st.text_input(t("fb.col.survey"), max_chars=100)
        comment = st.text_area(t("fb.col.comment"), max_chars=feedback.MAX_COMMENT)
        when = st.date_input(t("fb.col.responded_at"), value=datetime.now().date())
        if st.form_submit_button(t("fb.form.save"), type="primary"):
            with shown() as ok:
                new_id = feedback.add_feedback(
                    user,
                    customer_id,
                    {
                        "scale": scale,
                        "score": "" if score is None else str(int(score)),
                        "channel": channel,
                        "survey": survey,
                        "comment": comment,
                        "responded_at": datetime.combine(when, datetime.now().time().replace(microsecond=0)),
                    },
                )
            if ok.ok:
                st.session_state["fb_saved"] = new_id
                st.rerun()


FORM_CHANNELS = ("phone", "store", "email", "sms", "wechat", "app")


# ---------------------------------------------------------------- worklist


def worklist(user: auth.User) -> None:
    """Detractors without a follow-up: pick one, say what was done, mark it handled."""
    done = st.session_state.pop("fb_handled", None)
    if done:
        st.success(t("fb.work.saved", id=done))
    open_rows = feedback.worklist(user)
    st.metric(t("fb.work.open"), fmt_int(len(open_rows)), border=True)
    if open_rows.empty:
        st.info(t("fb.work.empty"))
    else:
        table = open_rows[["feedback_id", "customer_id", "full_name", "responded_at", "survey", "score", "comment"]]
        table = table.assign(responded_at=fmt_times(table["responded_at"], "%Y-%m-%d %H:%M"))
        st.dataframe(i18n.display_frame(table, CODES, headers="fb.col"), hide_index=True)
        with st.form("fb_handle_form", clear_on_submit=True):
            labels: dict[int, str] = {
                int(r.feedback_id): f"#{r.customer_id} {r.full_name or ''} · {r.score} · {str(r.responded_at)[:10]}"
                for r in open_rows.itertuples()
            }
            chosen = st.selectbox(t("fb.work.pick"), list(labels), format_func=lambda k: labels[k])
            note = st.text_area(t("fb.work.note"), max_chars=feedback.MAX_NOTE)
            if st.form_submit_button(t("fb.work.mark"), type="primary"):
                with shown() as ok:
                    feedback.mark_handled(user, chosen, note)
                if ok.ok:
                    st.session_state["fb_handled"] = chosen
                    st.rerun()
    with st.expander(t("fb.work.handled")):
        handled = feedback.worklist(user, handled=True, limit=100)
        if handled.empty:
            st.caption(t("fb.work.none_handled"))
        else:
            cols = ["customer_id", "full_name", "score", "comment", "handled_at", "handled_by", "handled_note"]
            table = handled[cols].assign(handled_at=fmt_times(handled["handled_at"], "%Y-%m-%d %H:%M"))
            st.dataframe(i18n.display_frame(table, CODES, headers="fb.col"), hide_index=True)
