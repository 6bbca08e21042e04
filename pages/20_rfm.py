"""RFM segments and lifecycle stages, as of a chosen date."""

from datetime import date

import streamlit as st

from lib.security import auth
from lib.dashboards import charts
from lib.core import i18n, settings
from lib.marketing import lifecycle, rfm
from lib import ui
from lib.core.i18n import t

user = ui.guard("rfm")


@ui.cached
def rfm_summary(as_of: date):
    return rfm.summary(as_of)


@ui.cached
def rfm_grid(as_of: date):
    return rfm.score_grid(as_of)


@ui.cached
def lifecycle_as_of(as_of: date):
    return lifecycle.counts_as_of(as_of)


st.title(t("nav.rfm"))
data_date = settings.as_of()
as_of = st.date_input(
    t("marketing.as_of"), value=data_date, max_value=data_date, help=t("marketing.as_of.help"), key="rfm_as_of"
)

summary = rfm_summary(as_of)
if summary.empty:
    st.info(t("marketing.rfm.empty"))
    st.stop()

at_risk = summary[summary["segment"].isin(["At Risk", "Can't Lose Them"])]
champions = summary[summary["segment"] == "Champions"]
ui.kpi_row(
    [
        {
            "label": t("marketing.rfm.buyers"),
            "value": ui.fmt_int(summary["customers"].sum()),
            "help": t("marketing.rfm.buyers.help"),
        },
        {"label": t("marketing.rfm.revenue"), "value": float(summary["revenue"].sum()), "money": True},
        {
            "label": t("marketing.rfm.champions_share"),
            "value": ui.fmt_pct(champions["revenue_share"].sum()),
            "help": t("marketing.rfm.champions_share.help") + " " + t("marketing.rfm.champions_vs_segments"),
        },
        {
            "label": t("marketing.rfm.at_risk_share"),
            "value": ui.fmt_pct(at_risk["revenue_share"].sum()),
            "help": t("marketing.rfm.at_risk_share.help"),
        },
    ]
)

left, right = st.columns([3, 2])
left.plotly_chart(charts.rfm_treemap(summary), width="stretch")
right.plotly_chart(charts.rfm_heatmap(rfm_grid(as_of)), width="stretch")

table = summary.assign(segment=[t(f"marketing.rfm.seg.{charts.rfm_slug(s)}") for s in summary["segment"]])
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_order=[
        "segment",
        "customers",
        "customer_share",
        "revenue",
        "revenue_share",
        "avg_value",
        "avg_frequency",
        "avg_recency_days",
    ],
    column_config={
        "segment": st.column_config.TextColumn(t("marketing.rfm.segment")),
        "customers": st.column_config.NumberColumn(t("marketing.rfm.customers"), format="localized"),
        "customer_share": st.column_config.ProgressColumn(
            t("marketing.rfm.customer_share"), format="percent", min_value=0, max_value=1
        ),
        "revenue": st.column_config.NumberColumn(t("marketing.rfm.revenue"), format="¥%,.0f"),
        "revenue_share": st.column_config.ProgressColumn(
            t("marketing.rfm.revenue_share"), format="percent", min_value=0, max_value=1
        ),
        "avg_value": st.column_config.NumberColumn(t("marketing.rfm.avg_value"), format="¥%,.0f"),
        "avg_frequency": st.column_config.NumberColumn(t("marketing.rfm.avg_frequency"), format="%.1f"),
        "avg_recency_days": st.column_config.NumberColumn(t("marketing.rfm.avg_recency"), format="%.0f"),
    },
)
ui.download(
    user,
    summary,
    f"rfm-{as_of.isoformat()}",
    key="rfm_download",
    what="rfm_summary",
    filters={"as_of": as_of.isoformat()},
    label=t("common.download_csv"),
    type="secondary",
)
with st.expander(t("marketing.rfm.rules_title")):
    st.markdown(t("marketing.rfm.rules"))
    st.dataframe(
        [
            {"R": r, **{f"FM {i + 1}": t(f"marketing.rfm.seg.{charts.rfm_slug(s)}") for i, s in enumerate(row)}}
            for r, row in rfm.GRID.items()
        ],
        hide_index=True,
    )

info = rfm.snapshot_info()
st.caption(
    t("marketing.rfm.snapshot", as_of=info.get("as_of") or "–", customers=ui.fmt_int(info.get("customers") or 0))
)
if auth.can(user, "manage_segments") and st.button(t("marketing.rfm.refresh", as_of=as_of.isoformat())):
    with ui.shown():
        count = rfm.refresh(user, as_of)
        st.success(t("marketing.rfm.refreshed", customers=ui.fmt_int(count)))

st.divider()
st.subheader(t("marketing.lifecycle.title"))
counts = lifecycle_as_of(as_of)
stored_frame = lifecycle.counts_stored()
stored = dict(zip(stored_frame["stage"], stored_frame["customers"].astype(int)))
c1, c2 = st.columns([3, 2])
c1.plotly_chart(charts.lifecycle_stage_counts(counts, stored), width="stretch")
with c2:
    st.markdown(t("marketing.lifecycle.rules"))
    reasons = lifecycle.churn_reasons()
    if not reasons.empty:
        st.caption(t("marketing.lifecycle.reasons"))
        st.dataframe(
            i18n.display_frame(reasons, {"reason": "dash.churn_reason"}),
            hide_index=True,
            width="stretch",
            column_config={
                "reason": t("marketing.lifecycle.reason"),
                "customers": st.column_config.NumberColumn(t("marketing.rfm.customers"), format="localized"),
            },
        )
if auth.can(user, "manage_segments") and st.button(
    t("marketing.lifecycle.recompute", as_of=as_of.isoformat()), type="primary"
):
    with ui.shown():
        detail = lifecycle.recompute(user, as_of)
        st.success(t("marketing.lifecycle.recomputed", changed=ui.fmt_int(detail["changed"])))
