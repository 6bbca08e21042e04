"""Overview: KPIs with change vs the previous period, trends, breakdowns, lifecycle, cohorts."""

import streamlit as st

from lib.dashboards import charts, metrics
from lib import ui
from lib.ui import preferences as prefs_ui
from lib.core.i18n import t
from lib.ui import feedback as ui_feedback

user = ui.guard("overview")


@ui.cached  # per filter set and data version (an aggregate rebuild is a write)
def _overview(f):
    return metrics.overview(f)


@ui.cached
def _meta():
    return metrics.aggregates_meta(), metrics.oldest_comparable_start()


st.title(t("nav.overview"))
filters = ui.sidebar_filters()
meta, oldest = _meta()
if meta is None or not meta["customers"]:
    st.info(t("common.empty_warehouse"))
    st.stop()
built = meta["refreshed_at"]

prev = filters.previous()
st.caption(
    t(
        "dash.overview.caption",
        start=filters.start,
        end=filters.end,
        pstart=prev.start,
        pend=prev.end,
        refreshed=built.strftime("%Y-%m-%d %H:%M"),
    )
)
if prev.start < oldest:
    st.caption(t("dash.overview.not_comparable", month=oldest))

figures = _overview(filters)
params = filters.to_params()  # recorded with each chart-data download
kpis = figures["kpis"]
FORMAT = {"count": ui.fmt_int, "money": ui.fmt_money_short, "rate": ui.fmt_pct}


def card(key):
    spec, k = metrics.KPIS[key], kpis[key]
    change = k["change"]
    if change is None:
        delta = None
    elif spec["kind"] == "rate":
        delta = t("dash.kpi.pp", value=f"{100 * change:+.1f}")
    else:
        delta = f"{100 * change:+.1f}%"
    return {
        "label": t(f"dash.kpi.{key}"),
        "value": FORMAT[spec["kind"]](k["value"]),
        "delta": delta,
        "help": metrics.definition(key),
        "delta_color": "normal" if spec["higher_is_better"] else "inverse",
    }


keys = list(metrics.KPIS)
ui.kpi_row(card(k) for k in keys[:4])
ui.kpi_row(card(k) for k in keys[4:])
ui_feedback.overview_cards(filters)  # NPS and CSAT with their response counts

# One view at a time, chosen in tabs (and kept in the URL): only the open tab's charts are
# built and drawn. Eight plotly charts on one screen took a 2-core browser 0.7-1.3 s to draw;
# one view's two to four charts stay under the 1 s page target (docs/benchmarks.md).
trends, breakdowns, lifecycle, feedback_tab = st.tabs(
    [t("dash.section.trends"), t("dash.section.breakdowns"), t("dash.section.lifecycle_cohorts"), t("fb.section")],
    key="view",
    bind="query-params",
)

if trends.open:
    with trends:
        st.caption(metrics.definition("trends"))
        monthly = figures["monthly"]
        left, right = st.columns(2)
        with left:
            ui.chart(
                user, charts.monthly_customers(monthly), monthly, "monthly_customers", "trend_customers", filters=params
            )
        with right:
            ui.chart(user, charts.monthly_revenue(monthly), monthly, "monthly_revenue", "trend_revenue", filters=params)

if breakdowns.open:
    with breakdowns:
        parts = figures["breakdowns"]
        measure = ui.measure_picker(["customers", "new_customers", "revenue"], "dash_breakdown_metric", "dash.metric")
        cols = st.columns(2)
        for i, dim in enumerate(["channel", "province", "customer_type", "industry"]):
            with cols[i % 2]:
                frame = parts[parts["dimension"] == dim].drop(columns="dimension")
                ui.chart(
                    user, charts.breakdown(parts, dim, measure), frame, f"by_{dim}", f"breakdown_{dim}", filters=params
                )

if lifecycle.open:
    with lifecycle:
        left, right = st.columns(2)
        with left:
            st.subheader(t("dash.section.lifecycle"), help=metrics.definition("lifecycle"))
            funnel = figures["funnel"]
            ui.chart(user, charts.lifecycle_funnel(funnel), funnel, "lifecycle_funnel", "funnel", filters=params)
            st.caption(metrics.definition("funnel_vs_churn_rate"))
        with right:
            st.subheader(t("dash.section.cohorts"), help=metrics.definition("cohort"))
            cohorts = figures["cohorts"]
            ui.chart(user, charts.cohort_heatmap(cohorts), cohorts, "cohort_retention", "cohorts", filters=params)

if feedback_tab.open:
    with feedback_tab:
        ui_feedback.overview_trend(user, filters, params)

prefs_ui.outlook_section(user)  # revenue outlook (issue #18), computed when opened
