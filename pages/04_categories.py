"""What customers buy: revenue, buyers and repeat rate by category and by order channel, and
monthly trends, within the Overview's filters."""

import streamlit as st

from lib import ui
from lib.core.i18n import t
from lib.dashboards import categories
from lib.ui import preferences as prefs_ui

user = ui.guard("categories")


@ui.cached  # per filter set and data version
def _figures(f):
    return {"summary": categories.summary(f), "channel": categories.by_channel(f), "monthly": categories.monthly(f)}


st.title(t("nav.categories"))
filters = ui.sidebar_filters()
st.caption(t("prefs.categories.caption", start=filters.start, end=filters.end))
figures = _figures(filters)
params = filters.to_params()
summary = figures["summary"]
if summary.empty:
    st.info(t("prefs.categories.empty"))
    st.stop()

prefs_ui.summary_table(summary)
left, right = st.columns(2)
with left:
    ui.chart(user, prefs_ui.revenue_by_category(summary), summary, "category_revenue", "cat_revenue", filters=params)
with right:
    ui.chart(user, prefs_ui.buyers_and_repeat(summary), summary, "category_buyers", "cat_buyers", filters=params)
channel = figures["channel"]
ui.chart(user, prefs_ui.revenue_by_channel(channel), channel, "category_by_channel", "cat_channel", filters=params)
monthly = figures["monthly"]
measure = (
    st.segmented_control(
        t("dash.breakdown.metric"),
        ["revenue", "buyers"],
        default="revenue",
        key="cat_monthly_measure",
        format_func=lambda m: t(f"prefs.col.{m}"),
    )
    or "revenue"
)
ui.chart(
    user, prefs_ui.monthly_by_category(monthly, measure), monthly, "category_monthly", "cat_monthly", filters=params
)
