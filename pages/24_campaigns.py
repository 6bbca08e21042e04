"""Campaigns with a control group: create (segment or win-back), launch, contact exports with
a second person's approval, and treatment-vs-control results with 95 % intervals."""

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from lib import ui
from lib.core import i18n, settings
from lib.core.i18n import t
from lib.marketing import campaigns, contact_exports, segments
from lib.security import auth

user = ui.guard("campaigns")
as_of = settings.as_of()
may_manage = auth.can(user, "manage_campaigns")
may_export = auth.can(user, "export_contacts")
may_approve = auth.can(user, "approve_contact_export")
GOTO = "campaign_goto"  # set by the churn page or after creating: open this campaign

st.title(t("nav.campaigns"))
st.caption(t("campaigns.caption"))

# ---------------------------------------------------------------- approvals waiting (manager, admin)
if may_approve:
    waiting = contact_exports.pending()
    others = waiting[waiting["requested_by"] != user.username]
    if not others.empty:
        st.subheader(t("campaigns.approvals"))
        for r in others.to_dict("records"):
            c1, c2, c3 = st.columns([6, 1, 1])
            c1.markdown(
                t(
                    "campaigns.approval_line",
                    campaign=r["campaign"],
                    channel=t(f"campaigns.channel.{r['channel']}"),
                    who=r["requested_by"],
                    purpose=r["purpose"],
                )
            )
            if c2.button(t("campaigns.approve"), key=f"approve_{r['export_id']}", type="primary"):
                with ui.shown():
                    contact_exports.approve(user, int(r["export_id"]))
                    st.rerun()
            if c3.button(t("campaigns.reject"), key=f"reject_{r['export_id']}"):
                with ui.shown():
                    contact_exports.reject(user, int(r["export_id"]))
                    st.rerun()

# ---------------------------------------------------------------- the list
listing = campaigns.list_campaigns(as_of)
counts = listing["display_status"].value_counts() if not listing.empty else {}
ui.kpi_row([{"label": t(f"campaigns.status.{s}"), "value": ui.fmt_int(counts.get(s, 0))} for s in campaigns.STATUSES])
if listing.empty:
    st.info(t("campaigns.none"))
else:
    shown = listing[
        ["campaign_id", "name", "kind", "channel", "display_status", "start_date", "end_date", "eval_end"]
        + ["treatment", "control"]
    ]
    st.dataframe(
        i18n.display_frame(
            shown,
            {"kind": "campaigns.kind", "channel": "campaigns.channel", "display_status": "campaigns.status"},
            headers="campaigns.col",
        ),
        hide_index=True,
        width="stretch",
        column_config={t(f"campaigns.col.{k}"): ui.count_column() for k in ("treatment", "control")},
    )
    ids = listing["campaign_id"].astype(int).tolist()
    names = dict(zip(ids, listing["name"]))
    goto = st.session_state.pop(GOTO, None)
    if goto in ids:
        st.session_state["campaign_pick"] = goto
    elif st.session_state.get("campaign_pick") not in ids:
        st.session_state["campaign_pick"] = ids[0]
    chosen = st.selectbox(t("campaigns.open"), ids, format_func=lambda i: f"#{i} {names[i]}", key="campaign_pick")
    row = listing.set_index("campaign_id").loc[chosen].to_dict()
    st.subheader(f"#{chosen} {row['name']}")
    st.caption(
        t(
            "campaigns.detail",
            kind=t(f"campaigns.kind.{row['kind']}"),
            channel=t(f"campaigns.channel.{row['channel']}"),
            start=row["start_date"],
            end=row["end_date"],
            eval_end=row["eval_end"],
            share=ui.fmt_pct(row["holdout_share"], 0),
            status=t(f"campaigns.status.{row['display_status']}"),
        )
    )
    if row["status"] == "draft":
        st.info(t("campaigns.draft_info"))
        if may_manage and st.button(t("campaigns.launch"), type="primary", key="campaign_launch"):
            with ui.shown():
                launched = campaigns.launch(user, chosen, as_of)
                st.success(
                    t(
                        "campaigns.launched",
                        members=ui.fmt_int(launched["members"]),
                        treatment=ui.fmt_int(launched["treatment"]),
                        control=ui.fmt_int(launched["control"]),
                    )
                )
                st.button(t("campaigns.refresh"), key="campaign_refresh")
    else:
        result = campaigns.results(chosen, as_of)
        if result.window_end < result.window_start:  # sending starts later: nothing to measure yet
            st.info(t("campaigns.not_started", start=result.window_start))
        else:
            st.markdown(
                t("campaigns.results_final" if result.complete else "campaigns.results_interim")
                + " "
                + t("campaigns.window", start=result.window_start, end=result.window_end)
            )
            tr, co = result.treatment, result.control
            rate, rev = result.purchase_rate, result.revenue_per_customer

            def interval(ci, fmt) -> str:
                if ci.verdict == "too_few":
                    return t("campaigns.too_few")
                return t("campaigns.ci", low=fmt(ci.low), high=fmt(ci.high))

            def pp(v: float) -> str:
                return t("dash.kpi.pp", value=f"{round(100 * v, 1) or 0.0:+.1f}")  # never "-0.0"

            def money(v: float) -> str:
                return f"{'-' if v < 0 else '+'}¥{abs(v):,.2f}"

            ui.kpi_row(
                [
                    {
                        "label": t("campaigns.treatment_rate"),
                        "value": ui.fmt_pct(tr.purchase_rate),
                        "help": t("campaigns.group_help", n=ui.fmt_int(tr.customers), buyers=ui.fmt_int(tr.buyers)),
                    },
                    {
                        "label": t("campaigns.control_rate"),
                        "value": ui.fmt_pct(co.purchase_rate),
                        "help": t("campaigns.group_help", n=ui.fmt_int(co.customers), buyers=ui.fmt_int(co.buyers)),
                    },
                    {"label": t("campaigns.rate_uplift"), "value": pp(rate.difference), "help": interval(rate, pp)},
                ]
            )
            ui.kpi_row(
                [
                    {"label": t("campaigns.treatment_revenue"), "value": f"¥{tr.revenue_per_customer:,.2f}"},
                    {"label": t("campaigns.control_revenue"), "value": f"¥{co.revenue_per_customer:,.2f}"},
                    {
                        "label": t("campaigns.revenue_uplift"),
                        "value": money(rev.difference),
                        "help": interval(rev, money),
                    },
                ]
            )
            st.markdown(
                t("campaigns.rate_line", diff=pp(rate.difference), ci=interval(rate, pp))
                + "  \n"
                + t("campaigns.revenue_line", diff=money(rev.difference), ci=interval(rev, money))
            )
            verdict = t(f"campaigns.verdict.{result.verdict}")
            {"raised": st.success, "lowered": st.error}.get(result.verdict, st.info)(
                verdict + " — " + t(f"campaigns.verdict_help.{result.verdict}")
            )
            with st.expander(t("campaigns.method_title")):
                st.markdown(t("campaigns.method"))

        # ------------------------------------------------------- contact exports of this campaign
        st.subheader(t("campaigns.contacts"))
        st.caption(
            t("campaigns.contacts_caption", hours=ui.fmt_int(contact_exports.window_hours()))
            + (" " + t("campaigns.no_approval") if not contact_exports.approval_required() else "")
        )
        requests = contact_exports.of_campaign(chosen)
        if not requests.empty:
            st.dataframe(
                i18n.display_frame(
                    requests[
                        ["export_id", "status", "purpose", "requested_by", "decided_by", "expires_at"]
                        + ["downloads", "last_rows"]
                    ].assign(
                        expires_at=ui.fmt_times(requests["expires_at"], "%Y-%m-%d %H:%M"),
                        last_rows=["–" if pd.isna(v) else ui.fmt_int(v) for v in requests["last_rows"]],
                    ),
                    {"status": "campaigns.export_status"},
                    headers="campaigns.col",
                ),
                hide_index=True,
                width="stretch",
            )
        if may_export and row["status"] == "launched":
            now = datetime.now()
            for r in requests.to_dict("records"):
                if contact_exports.refusal(r, user.username, now) is None:
                    export_id = int(r["export_id"])
                    st.download_button(
                        t("campaigns.download", id=export_id),
                        lambda export_id=export_id: contact_exports.download(user, export_id).data,
                        file_name=f"campaign-{chosen}-{row['channel']}-contacts-{export_id}.csv",
                        mime="text/csv",
                        key=f"contacts_{export_id}",
                        on_click="ignore",
                        icon=":material/download:",
                    )  # generated and audited (rows, SHA-256) on the click
            # the purpose stays in its field when it is refused, and is cleared once requested
            with st.form("contact_request"):
                purpose = st.text_input(
                    t("campaigns.purpose"), max_chars=500, help=t("campaigns.purpose_help"), key="campaign_purpose"
                )
                asked = st.form_submit_button(t("campaigns.request"))
            if asked:
                with ui.shown():
                    contact_exports.request(user, chosen, purpose)
                    st.session_state.pop("campaign_purpose", None)
                    st.rerun()

# ---------------------------------------------------------------- a new campaign
if may_manage:
    st.subheader(t("campaigns.new"))
    saved = segments.list_saved()
    if saved.empty:
        st.info(t("campaigns.no_segments"))
    else:
        with st.form("campaign_new"):
            name = st.text_input(t("campaigns.name"), max_chars=campaigns.MAX_NAME)
            c1, c2 = st.columns(2)
            segment = c1.selectbox(t("campaigns.segment"), saved["name"].tolist())
            channel = c2.selectbox(
                t("campaigns.col.channel"), list(campaigns.CHANNELS), format_func=lambda c: t(f"campaigns.channel.{c}")
            )
            d1, d2, d3, d4 = st.columns(4)
            start = d1.date_input(t("campaigns.col.start_date"), value=as_of + timedelta(days=1))
            end = d2.date_input(t("campaigns.col.end_date"), value=as_of + timedelta(days=7))
            eval_end = d3.date_input(t("campaigns.col.eval_end"), value=as_of + timedelta(days=30))
            share = d4.number_input(
                t("campaigns.holdout"),
                min_value=1,
                max_value=50,
                value=int(round(100 * float(settings.get("campaign_holdout_share")))),
                step=1,
            )
            create = st.form_submit_button(t("campaigns.create"), type="primary")
        if create:
            with ui.shown():
                new_id = campaigns.create(user, name, channel, start, end, eval_end, segment, share / 100)
                st.session_state[GOTO] = new_id
                st.rerun()
    st.caption(t("campaigns.winback_hint"))
