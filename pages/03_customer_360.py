"""Customer 360°: profile (masked per role), tags, stage, data quality, consents, timeline,
complaints and consults, and the record's change history. The id travels in the URL (?id=)."""

import pandas as pd
import streamlit as st

from lib import charts, customers, ui
from lib.i18n import t

user = ui.guard("customer_360")

raw_id = ui.url_text_input(t("dash.c360.pick"), "id", key="dash_360_id", width=240)
if not raw_id.strip().isdigit():
    st.info(t("dash.c360.none"))
    st.page_link("pages/02_customers.py", label=t("nav.customers"), icon=":material/search:")
    st.stop()
cid = int(raw_id.strip())

try:
    view = customers.customer_360(user, cid)
except customers.NotFound:
    st.warning(t("dash.c360.not_found", id=cid))
    st.stop()

p = view.profile
name = p.get("full_name") or t("dash.unknown")
st.title(f"{name} · #{cid}")
if p.get("merged_into"):
    st.warning(t("dash.c360.merged", id=p["merged_into"]))
    st.page_link("pages/03_customer_360.py", label=t("dash.c360.open_merged"),
                 query_params={"id": str(p["merged_into"])}, icon=":material/merge:")
if p.get("deleted_at") is not None:
    st.warning(t("dash.c360.deleted", date=customers.display_date(p["deleted_at"])))
if p.get("erased_at") is not None:
    st.info(t("dash.c360.erased", date=customers.display_date(p["erased_at"])))

summary, tags = view.summary, view.tags
ui.kpi_row([
    {"label": t("dash.c360.stage"), "value": charts.stage_label(p.get("lifecycle_stage"))},
    {"label": t("dash.c360.kept_orders"), "value": ui.fmt_int(summary.get("kept_orders"))},
    {"label": t("dash.c360.net_revenue"), "value": ui.fmt_money(summary.get("net_revenue"))},
    {"label": t("dash.c360.refunds"), "value": ui.fmt_int(summary.get("refunded_orders"))},
])
if summary.get("first_order") is not None:      # dates are too wide for a metric card
    st.caption(t("dash.c360.order_span", first=customers.display_date(summary["first_order"])[:10],
                 last=customers.display_date(summary["last_order"])[:10]))
if tags:
    st.markdown(" ".join(f":blue-badge[{tag}]" for tag in tags))
else:
    st.caption(t("dash.c360.no_tags"))

left, right = st.columns([3, 2])
with left:
    st.subheader(t("dash.c360.profile"))
    fields = ["full_name", "gender", "birth_date", "mobile", "email", "id_number", "address",
              "customer_type", "company", "industry", "job_title", "channel", "registered_at",
              "updated_at", "verified_at", "churn_reason", "version"]
    place = " ".join(str(p.get(k) or "") for k in ("country", "province", "city", "district")).strip()
    values = {k: p.get(k) for k in fields}
    values["address"] = " ".join(x for x in (place, p.get("address") or "") if x) or None
    values["source"] = f"{p.get('source')} / {p.get('source_record_id')}"
    profile = pd.DataFrame({"field": [t(f"dash.field.{k}") for k in values],
                            "value": [customers.display_date(v) if v is not None else "–"
                                      for v in values.values()]})
    st.dataframe(profile, hide_index=True, column_config={"field": "", "value": ""},
                 height=35 * (len(profile) + 1) + 3)
with right:
    st.subheader(t("dash.c360.quality"))
    flags = view.quality_flags
    if flags:
        st.dataframe(pd.DataFrame([{
            t("dash.col.source"): t(f"dash.quality.source.{f['source']}"),
            t("dash.col.field"): f["field"],
            t("dash.col.problem"): t(f"dash.quality.code.{f['code']}") if f["source"] != "quality" else f["code"],
            t("dash.col.severity"): f["severity"],
            t("dash.col.detail"): "" if f["detail"] is None else str(f["detail"])} for f in flags]),
            hide_index=True)
    else:
        st.success(t("dash.c360.quality_ok"))
    st.subheader(t("dash.c360.consents"))
    consents = view.consents
    if len(consents):
        st.dataframe(consents, hide_index=True)
    else:
        st.caption(t("dash.c360.no_consents"))

st.subheader(t("dash.c360.timeline"))
events, orders = view.events, view.orders
st.plotly_chart(charts.customer_timeline(events, orders), key="timeline_chart",
                config={"displaylogo": False})
if len(events) >= customers.TIMELINE_LIMIT:
    st.caption(t("dash.c360.timeline_cap", n=customers.TIMELINE_LIMIT))
ui.download_csv(user, events, f"customer_{cid}_events", key="timeline_csv")

tab_orders, tab_notes, tab_history = st.tabs([t("dash.c360.orders"), t("dash.c360.notes"),
                                              t("dash.c360.history")])
with tab_orders:
    st.dataframe(orders, hide_index=True)
    ui.download_csv(user, orders, f"customer_{cid}_orders", key="orders_csv")
with tab_notes:
    notes = view.notes
    if len(notes):
        notes = notes.assign(event_type=notes["event_type"].map(lambda e: t(f"dash.event.{e}")))
        st.dataframe(notes, hide_index=True)
    else:
        st.caption(t("dash.c360.no_notes"))
with tab_history:
    history = view.history
    if len(history):
        st.dataframe(history, hide_index=True)
        ui.download_csv(user, history, f"customer_{cid}_history", key="history_csv")
    else:
        st.caption(t("dash.c360.no_history"))
