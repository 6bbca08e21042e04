"""Jobs: every scheduled job with its schedule, last and next run; Run now; schedules; history."""

import pandas as pd
import streamlit as st

from lib import ui
from lib.admin import jobs, scheduler
from lib.core import i18n
from lib.core.i18n import display_frame, t

user = ui.guard("jobs")

st.title(t("nav.jobs"))
st.caption(t("jobs.caption"))
st.caption(t("jobs.scheduler.on") if scheduler.running() else t("jobs.scheduler.off"))

if flash := st.session_state.pop("jobs_flash", None):
    st.success(flash)


def job_label(name: str) -> str:
    return t(f"jobs.name.{name}")


def counts(values) -> list[str]:
    return [ui.EMPTY if pd.isna(v) else ui.fmt_int(v) for v in values]


def seconds(values) -> list[str]:
    return [ui.EMPTY if pd.isna(v) else f"{v:,.1f}" for v in values]


overview = jobs.overview(user)
for row in overview[overview["outcome"] == "failed"].to_dict("records"):
    st.error(
        t("jobs.last_failed", job=job_label(row["name"]), when=ui.fmt_times([row["last_run"]])[0], error=row["error"])
    )

table = overview.assign(
    job=overview["name"].map(job_label),
    schedule=[
        s if on and here else t("jobs.off") if here else t("jobs.not_here")
        for s, on, here in zip(overview["schedule"], overview["enabled"], overview["applies"])
    ],
    last_run=ui.fmt_times(overview["last_run"], "%Y-%m-%d %H:%M"),
    next_run=ui.fmt_times(overview["next_run"], "%Y-%m-%d %H:%M"),
    duration=seconds(overview["duration_s"]),
    rows=counts(overview["rows"]),
    detail=[
        e if o == "failed" else i18n.note_text(n)
        for o, e, n in zip(overview["outcome"], overview["error"], overview["note"])
    ],
)[["job", "schedule", "last_run", "duration", "outcome", "rows", "next_run", "detail"]]
st.dataframe(
    display_frame(table, {"outcome": "jobs.outcome"}, headers="jobs.col"),
    hide_index=True,
    width="stretch",
    height="content",  # every job in view (eleven of them): no scrolling inside the table
    key="jobs_table",
    # whole times ("2026-12-03 08:45") and room for the detail (the table scrolls sideways
    # rather than cutting either)
    column_config={
        **{t(f"jobs.col.{c}"): st.column_config.TextColumn(width=140) for c in ("last_run", "next_run")},
        t("jobs.col.schedule"): st.column_config.TextColumn(width=170),  # "Not for this deployment"
        t("jobs.col.detail"): st.column_config.TextColumn(width=420),
    },
)

runnable = [r["name"] for r in overview.to_dict("records") if r["applies"]]

st.subheader(t("jobs.run.header"))
left, right = st.columns([3, 1], vertical_alignment="bottom")
chosen = left.selectbox(t("jobs.run.choose"), runnable, format_func=job_label, key="jobs_run_choice")
if right.button(t("jobs.run.button"), type="primary", key="jobs_run_now"):
    label, done = job_label(chosen), False
    with st.status(t("jobs.run.running", job=label), expanded=True) as status:
        bar = st.progress(0.0)
        with ui.shown():
            run = jobs.run_now(user, chosen, progress=lambda f, text: bar.progress(min(max(float(f), 0.0), 1.0), text))
            took = f"{(run.finished_at - run.started_at).total_seconds():.1f}"
            if run.outcome == "failed":
                message = t("jobs.run.failed", job=label, error=run.error)
                status.update(label=message, state="error")
            elif run.outcome == "skipped":
                message = t("jobs.run.skipped", job=label, note=i18n.note_text(run.note))
                status.update(label=message, state="complete")
            else:
                message = t(
                    "jobs.run.ok", job=label, rows=ui.fmt_int(run.rows), seconds=took, note=i18n.note_text(run.note)
                )
                status.update(label=message, state="complete")
            st.session_state["jobs_flash" if run.outcome != "failed" else "jobs_error"] = message
            done = True
    if done:
        st.rerun()
if error := st.session_state.pop("jobs_error", None):
    st.error(error)

st.subheader(t("jobs.schedule.header"))
st.caption(t("jobs.schedule.caption"))
plan = overview.set_index("name")
target = st.selectbox(t("jobs.run.choose"), runnable, format_func=job_label, key="jobs_schedule_choice")
with st.form("jobs_schedule"):
    cron = st.text_input(t("jobs.schedule.cron"), value=plan.loc[target, "schedule"], max_chars=100)
    st.caption(t("jobs.schedule.default", cron=plan.loc[target, "default_schedule"]))
    enabled = st.checkbox(t("jobs.schedule.enabled"), value=bool(plan.loc[target, "enabled"]))
    if st.form_submit_button(t("jobs.schedule.save")):
        with ui.shown():
            jobs.set_schedule(user, target, cron, enabled)
            st.session_state["jobs_flash"] = t("jobs.schedule.saved", job=job_label(target), cron=cron)
            st.rerun()

st.subheader(t("jobs.history.header"))
names = [None, *overview["name"]]
which = st.selectbox(
    t("jobs.run.choose"),
    names,
    format_func=lambda n: t("jobs.history.all") if n is None else job_label(n),
    key="jobs_history_choice",
)
past = jobs.history(user, which)
if past.empty:
    st.info(t("jobs.history.none"))
else:
    past = past.assign(
        job=past["name"].map(job_label),
        started_at=ui.fmt_times(past["started_at"]),
        finished_at=ui.fmt_times(past["finished_at"]),
        duration=seconds(past["duration_s"]),
        rows=counts(past["rows_touched"]),
        user=past["started_by"],
        detail=[
            e if o == "failed" else i18n.note_text(n) for o, e, n in zip(past["outcome"], past["error"], past["note"])
        ],
    )[["run_id", "job", "trigger", "user", "started_at", "finished_at", "duration", "outcome", "rows", "detail"]]
    st.dataframe(
        display_frame(past, {"outcome": "jobs.outcome", "trigger": "jobs.trigger"}, headers="jobs.col"),
        hide_index=True,
        width="stretch",
        key="jobs_history",
    )
