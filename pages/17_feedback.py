"""Feedback follow-ups: detractors (latest NPS response 0-6) waiting for a steward, marked
handled with a note (audited)."""

import streamlit as st

from lib import ui
from lib.core.i18n import t
from lib.ui import feedback as ui_feedback

user = ui.guard("feedback")

st.title(t("nav.feedback"))
st.caption(t("fb.work.intro"))
ui_feedback.worklist(user)
