"""Data-quality scorecard: overall, per dimension, field and source channel, trend, drill-down."""

import streamlit as st

from lib.core import i18n
from lib.stewardship import quality, charts
from lib import ui
from lib.core.i18n import t

user = ui.guard("quality")


@ui.cached
def scorecard():
    return quality.scorecard()


st.title(t("nav.quality"))
st.caption(t("stewards.q.intro"))

if st.button(t("stewards.q.run_now"), type="primary", key="quality_run"):
    with st.spinner(t("stewards.q.running")):
        with ui.shown() as outcome:
            result = quality.run(user)
        if outcome.ok:
            st.success(
                t(
                    "stewards.q.run_done",
                    run_id=result.run_id,
                    seconds=f"{result.seconds:.1f}",
                    opened=result.flags_opened,
                    resolved=result.flags_resolved,
                )
            )

card = scorecard()
if card is None:
    st.info(t("stewards.q.no_runs"))
    st.stop()

st.caption(
    t(
        "stewards.q.as_of_run",
        run_id=card.run["run_id"],
        when=str(card.run["finished_at"])[:19],
        customers=ui.fmt_int(card.run["customers"]),
    )
)
ui.kpi_row(
    [{"label": t("stewards.q.overall"), "value": ui.fmt_pct(card.overall), "help": t("stewards.q.overall_help")}]
    + [
        {
            "label": t(f"stewards.dim.{row.dimension}"),
            "value": ui.fmt_pct(row.score),
            "help": t(f"stewards.dim.{row.dimension}.help"),
        }
        for row in card.by_dimension.head(2).itertuples(index=False)
    ]
)
ui.kpi_row(
    [
        {
            "label": t(f"stewards.dim.{row.dimension}"),
            "value": ui.fmt_pct(row.score),
            "help": t(f"stewards.dim.{row.dimension}.help"),
        }
        for row in card.by_dimension.iloc[2:].itertuples(index=False)
    ]
)

left, right = st.columns(2)
left.plotly_chart(charts.score_trend(card.trend, quality.DIMENSIONS), width="stretch")
right.plotly_chart(charts.score_bars(card.by_channel, "channel", t("stewards.q.by_channel")), width="stretch")
left, right = st.columns(2)
left.plotly_chart(charts.source_dimension_heatmap(card.by_source_dimension, quality.DIMENSIONS), width="stretch")
right.plotly_chart(charts.score_bars(card.by_field, "field", t("stewards.q.by_field")), width="stretch")

st.subheader(t("stewards.q.rules"))
rules = card.by_rule.assign(
    rule=[t(f"stewards.rule.{r}") for r in card.by_rule["rule_id"]],
    dimension=[t(f"stewards.dim.{d}") for d in card.by_rule["dimension"]],
    severity=[t(f"stewards.sev.{s}") for s in card.by_rule["severity"]],
    field=[t(f"stewards.field.{f}") for f in card.by_rule["field"]],
    score=card.by_rule["score"] * 100,
)
st.dataframe(
    rules[["rule", "dimension", "severity", "field", "checked", "failed", "score"]],
    hide_index=True,
    width="stretch",
    column_config={
        "score": st.column_config.ProgressColumn(t("stewards.q.score_pct"), format="%.2f", min_value=0, max_value=100),
        "rule": t("stewards.q.rule"),
        "dimension": t("stewards.q.dimension"),
        "severity": t("stewards.q.severity"),
        "field": t("stewards.q.field"),
        "checked": ui.count_column(t("stewards.q.checked")),
        "failed": ui.count_column(t("stewards.q.failed")),
    },
)

st.subheader(t("stewards.q.drilldown"))
failing = card.by_rule[card.by_rule["failed"] > 0]["rule_id"].tolist() or card.by_rule["rule_id"].tolist()
c1, c2, c3 = st.columns([2, 1, 1])
rule_id = c1.selectbox(
    t("stewards.q.rule"), failing, format_func=lambda r: t(f"stewards.rule.{r}"), key="quality_drill_rule"
)
sources = [None] + sorted(card.by_source["source"].tolist())
source = c2.selectbox(
    t("stewards.q.source"),
    sources,
    format_func=lambda s: i18n.code_label("dash.source", s) if s else t("stewards.all"),
    key="quality_drill_source",
)
channels = [None] + sorted(card.by_channel["channel"].tolist())
channel = c3.selectbox(
    t("stewards.q.channel"),
    channels,
    format_func=lambda s: i18n.code_label("dash.channel", s) if s else t("stewards.all"),
    key="quality_drill_channel",
)
st.caption(t(f"stewards.rule.{rule_id}.help"))
records = quality.failing_records(user, rule_id, source=source, channel=channel, limit=500)
st.dataframe(
    i18n.display_frame(records, {"channel": "dash.channel"}),
    hide_index=True,
    width="stretch",
    column_config={
        "customer_id": t("dash.col.customer_id"),
        "source": t("stewards.q.source"),
        "source_record_id": t("stewards.field.source_record_id"),
        "channel": t("stewards.q.channel"),
        "full_name": t("stewards.field.full_name"),
        "value": t("stewards.q.value"),
        "updated_at": t("stewards.field.updated_at"),
    },
)
st.caption(t("stewards.q.drill_note", n=len(records)))
st.page_link("pages/12_review_queue.py", label=t("stewards.q.to_queue"), icon=":material/checklist:")
