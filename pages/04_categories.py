"""What customers buy: revenue, buyers and repeat rate by category and by order channel, and
monthly trends, within the Overview's filters."""

import streamlit as st

from lib import ui
from lib.core.i18n import t
from lib.dashboards import categories
from lib.ui import preferences as prefs_ui

user = ui.guard("categories")


# Each view's figures are read when its tab is opened (0.4-0.7 s each on 1M customers before
# the page cache has them), cached per filter set and data version.
@ui.cached
def _summary(f):
    return categories.summary(f)


@ui.cached
def _by_channel(f):
    return categories.by_channel(f)


@ui.cached
def _monthly(f):
    return categories.monthly(f)


st.title(t("nav.categories"))
filters = ui.sidebar_filters()
st.caption(t("prefs.categories.caption", start=filters.start, end=filters.end))
params = filters.to_params()
summary = _summary(filters)
if summary.empty:
    st.info(t("prefs.categories.empty"))
    st.stop()

# One view at a time (kept in the URL), as on the Overview: only the open tab's charts are
# built and drawn, so the page opens with two charts instead of four.
by_category, by_channel, by_month = st.tabs(
    [t("prefs.categories.tab.category"), t("prefs.categories.tab.channel"), t("prefs.categories.tab.monthly")],
    key="view",
    bind="query-params",
)
if by_category.open:
    with by_category:
        prefs_ui.summary_table(summary)
        left, right = st.columns(2)
        with left:
            ui.chart(
                user, prefs_ui.revenue_by_category(summary), summary, "category_revenue", "cat_revenue", filters=params
            )
        with right:
            ui.chart(
                user, prefs_ui.buyers_and_repeat(summary), summary, "category_buyers", "cat_buyers", filters=params
            )
if by_channel.open:
    with by_channel:
        channel = _by_channel(filters)
        ui.chart(
            user, prefs_ui.revenue_by_channel(channel), channel, "category_by_channel", "cat_channel", filters=params
        )
if by_month.open:
    with by_month:
        monthly = _monthly(filters)
        measure = ui.measure_picker(["revenue", "buyers"], "cat_monthly_measure", "prefs.col")
        ui.chart(
            user,
            prefs_ui.monthly_by_category(monthly, measure),
            monthly,
            "category_monthly",
            "cat_monthly",
            filters=params,
        )
