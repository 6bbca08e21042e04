"""Customer 360°: profile (masked per role), tags, stage, data quality, consents, timeline,
complaints and consults, and the record's change history. The id travels in the URL (?id=)."""

import pandas as pd
import streamlit as st

from lib.dashboards import charts, customers
from lib.core import i18n
from lib import ui
from lib.ui import preferences as prefs_ui
from lib.ui import records as records_ui
from lib.core.i18n import t
from lib.ui import contact_forms
from lib.ui import feedback as ui_feedback

user = ui.guard("customer_360")

raw_id = ui.url_text_input(t("dash.c360.pick"), "id", key="dash_360_id", width=240)
cid = ui.parse_id(raw_id)  # digits only: '²' passes str.isdigit() but not int()
if cid is None:
    st.info(t("dash.c360.none"))
    st.page_link("pages/02_customers.py", label=t("nav.customers"), icon=":material/search:")
    records_ui.recently_deleted(user)  # stewards: deleted customers (search leaves them out)
    st.stop()

try:
    view = customers.customer_360(user, cid)
except customers.NotFound:
    st.warning(t("dash.c360.not_found", id=cid))
    st.stop()

p = view.profile
name = ui.person_name(p.get("full_name")) or t("dash.unknown")
st.title(f"{name} · #{cid}")
if p.get("merged_into"):
    st.warning(t("dash.c360.merged", id=p["merged_into"]))
    st.page_link(
        "pages/03_customer_360.py",
        label=t("dash.c360.open_merged"),
        query_params={"id": str(p["merged_into"])},
        icon=":material/merge:",
    )
records_ui.deleted_banner(user, p)  # who deleted it, when, why; Restore for stewards
if p.get("erased_at") is not None:
    st.info(t("dash.c360.erased", date=customers.display_date(p["erased_at"])))
records_ui.profile_tools(user, p)  # Edit profile and Delete customer (stewards, admins)

summary, tags = view.summary, view.tags
ui.kpi_row(
    [
        {"label": t("dash.c360.stage"), "value": charts.stage_label(p.get("lifecycle_stage"))},
        {"label": t("dash.c360.kept_orders"), "value": ui.fmt_int(summary.get("kept_orders"))},
        {"label": t("dash.c360.net_revenue"), "value": summary.get("net_revenue"), "money": True},
        {"label": t("dash.c360.refunds"), "value": ui.fmt_int(summary.get("refunded_orders"))},
    ]
)
if summary.get("first_order") is not None:  # dates are too wide for a metric card
    st.caption(
        t(
            "dash.c360.order_span",
            first=customers.display_date(summary["first_order"])[:10],
            last=customers.display_date(summary["last_order"])[:10],
        )
    )
if tags:
    st.markdown(" ".join(f":blue-badge[{tag}]" for tag in tags))
else:
    st.caption(t("dash.c360.no_tags"))

left, right = st.columns([3, 2])
with left:
    st.subheader(t("dash.c360.profile"))
    fields = [
        "full_name",
        "gender",
        "birth_date",
        "mobile",
        "email",
        "id_number",
        "address",
        "customer_type",
        "company",
        "industry",
        "job_title",
        "channel",
        "registered_at",
        "updated_at",
        "verified_at",
        "churn_reason",
        "version",
    ]
    place = " ".join(
        str(x) for x in (i18n.country_name(p.get("country")), *map(p.get, ("province", "city", "district"))) if x
    )
    values = {k: p.get(k) for k in fields}
    values["address"] = " ".join(x for x in (place, p.get("address") or "") if x) or None
    values["source"] = f"{i18n.code_label('dash.source', p.get('source'))} / {p.get('source_record_id')}"
    values["registered_at"] = customers.registration_label(p, t)
    # translated as a one-row table (codes such as M or wechat), then shown as field/value pairs
    values = i18n.display_frame(
        pd.DataFrame([values]),
        {
            "gender": "dash.gender",
            "channel": "dash.channel",
            "industry": "dash.industry",
            "churn_reason": "dash.churn_reason",
        },
    ).iloc[0]
    profile = pd.DataFrame(
        {
            "field": [t(f"dash.field.{k}") for k in values.index],
            "value": [customers.display_date(v) if v is not None else "–" for v in values],
        }
    )
    st.dataframe(profile, hide_index=True, column_config={"field": "", "value": ""}, height=35 * (len(profile) + 1) + 3)
with right:
    st.subheader(t("dash.c360.quality"))
    if view.quality_flags:
        findings = pd.DataFrame(view.quality_flags, columns=["source", "field", "code", "severity", "detail"])
        findings = findings.assign(detail=findings["detail"].map(lambda d: "" if d is None else str(d)))
        # a quality run's finding is named by its rule, the page's own checks by a code
        st.dataframe(
            i18n.display_frame(
                findings.rename(columns={"code": "problem"}),
                {
                    "source": "dash.quality.source",
                    "field": ("dash.field", "stewards.field"),
                    "problem": ("dash.quality.code", "stewards.rule"),
                    "severity": "stewards.sev",
                },
                headers="dash.col",
            ),
            hide_index=True,
        )
    else:
        st.success(t("dash.c360.quality_ok"))
    st.subheader(t("dash.c360.consents"))
    consents = view.consents
    if len(consents):
        st.dataframe(
            i18n.display_frame(
                consents,
                {
                    "channel": "admin.privacy.channel",
                    "status": "admin.privacy.status",
                    "source": ("dash.consent.source", "dash.channel"),
                    "recorded_by": "dash.actor",
                },
                headers="dash.consent.col",
            ),
            hide_index=True,
        )
    else:
        st.caption(t("dash.c360.no_consents"))

prefs_ui.customer_section(cid)  # category preferences and next category (issue #18)

st.subheader(t("dash.c360.timeline"))
events, orders = view.events, view.orders
st.plotly_chart(charts.customer_timeline(events, orders), key="timeline_chart", config={"displaylogo": False})
if len(events) >= customers.TIMELINE_LIMIT:
    st.caption(t("dash.c360.timeline_cap", n=customers.TIMELINE_LIMIT))
ui.download(user, events, f"customer_{cid}_events", key="timeline_csv", what="customer_360:events", record=cid)

# Only the open tab is built and drawn (its choice survives the forms' reruns): every tab's
# tables and forms drawn at once made the page slow to open.
tab_labels = {"orders": t("dash.c360.orders"), "notes": t("ixn.c360.timeline"), "history": t("dash.c360.history")}
if user.can("edit_consent"):
    tab_labels["consent"] = t("ixn.c360.consent")
tabs = ui.tabs(tab_labels, key="c360_tab")
if tabs["orders"].open:
    with tabs["orders"]:
        st.dataframe(
            i18n.display_frame(
                orders,
                {"status": "dash.order.status", "channel": "dash.channel", "category": "dash.category"},
                headers="dash.order.col",
            ),
            hide_index=True,
            column_config={t(f"dash.order.col.{k}"): ui.money_column(cents=True) for k in ("amount", "refund_amount")},
        )
        ui.download(user, orders, f"customer_{cid}_orders", key="orders_csv", what="customer_360:orders", record=cid)
if tabs["notes"].open:
    with tabs["notes"]:  # interactions, complaints and consults in one timeline; a new one below it
        contact_forms.timeline(user, cid)
        if user.can("log_interaction"):
            st.subheader(t("ixn.c360.log"))
            contact_forms.log_interaction_form(user, cid)
if tabs["history"].open:
    with tabs["history"]:
        history = view.history
        if len(history):
            st.dataframe(
                i18n.display_frame(
                    history,
                    {"username": "dash.actor", "action": "dash.action"},
                    headers="admin.audit.col",
                    json=ui.audit_json("before", "after", "detail"),
                ),
                hide_index=True,
            )
            ui.download(
                user, history, f"customer_{cid}_history", key="history_csv", what="customer_360:history", record=cid
            )
        else:
            st.caption(t("dash.c360.no_history"))
if "consent" in tabs and tabs["consent"].open:
    with tabs["consent"]:
        contact_forms.consent_form(user, cid)

st.subheader(t("fb.c360.title"))
ui_feedback.customer_section(user, cid)  # latest NPS / CSAT, responses, entry form (stewards)
