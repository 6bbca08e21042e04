"""Privacy requests about one customer: reveal the ID number (reason, audited), consent,
everything-held export, erasure with confirmation."""

import json

import pandas as pd
import streamlit as st

from lib.security import auth, privacy
from lib.core import i18n
from lib import ui
from lib.core.i18n import t

user = ui.guard("privacy")

st.title(t("nav.privacy"))
st.caption(t("admin.privacy.caption"))

raw_id = st.text_input(t("admin.privacy.customer_id"), key="privacy_customer", max_chars=20)
if not raw_id.strip():
    st.stop()
try:
    summary = privacy.subject_summary(user, raw_id)
except privacy.PrivacyError as exc:
    ui.show_error(exc)
    st.stop()
if summary is None:
    st.warning(t("admin.privacy.unknown", id=raw_id.strip()))
    st.stop()
cid = summary["customer_id"]

if flash := st.session_state.pop("privacy_flash", None):
    st.success(flash)
cols = ["full_name", "mobile", "email", "id_number", "city", "orders"]
st.dataframe(
    i18n.display_frame(
        pd.DataFrame([{c: summary.get(c) for c in cols}]),
        {"full_name": ui.person_name},
        headers="admin.privacy.col",
    ),
    hide_index=True,
    width="stretch",
)
if summary["erased_at"] is not None:
    st.info(t("admin.privacy.erased_on", date=str(summary["erased_at"])[:16]))
if summary["merged_into"] is not None:
    st.info(t("admin.privacy.merged_into", id=summary["merged_into"]))

# the open tab stays open after an action inside it (a consent change, an export), so its
# result shows where the user acted
tabs = ui.tabs({k: t(f"admin.privacy.tab.{k}") for k in ("reveal", "consent", "export", "erase")}, key="privacy_tab")
tab_reveal, tab_consent, tab_export, tab_erase = tabs["reveal"], tabs["consent"], tabs["export"], tabs["erase"]

with tab_reveal:
    with st.form("reveal", clear_on_submit=True):
        reason = st.text_input(t("admin.privacy.reason"), max_chars=500)
        submitted = st.form_submit_button(t("admin.privacy.reveal"), type="primary")
    if submitted:
        try:
            value = privacy.reveal_id_number(user, cid, reason)
        except (privacy.PrivacyError, auth.PermissionDenied) as exc:
            ui.show_error(exc)
        else:
            if value is None:
                st.info(t("admin.privacy.no_id"))
            else:
                st.code(value, language=None)
                st.caption(t("admin.privacy.revealed"))

channel_label = lambda c: t(f"admin.privacy.channel.{c}")  # noqa: E731
status_label = lambda s: t(f"admin.privacy.status.{s}")  # noqa: E731
CONSENT_CODES = {
    "channel": "admin.privacy.channel",
    "status": "admin.privacy.status",
    "source": ("dash.consent.source", "dash.channel"),
    "recorded_by": "dash.actor",
}

with tab_consent:
    current = privacy.consent_current(user, cid)
    st.markdown(f"**{t('admin.privacy.consent.current')}**")
    if current.empty:
        st.info(t("admin.privacy.consent.none"))
    else:
        st.dataframe(
            i18n.display_frame(current, CONSENT_CODES, headers="dash.consent.col"), hide_index=True, width="stretch"
        )
    with st.form("consent"):
        c1, c2, c3 = st.columns(3)
        channel = c1.selectbox(t("admin.privacy.consent.channel"), privacy.CHANNELS, format_func=channel_label)
        status = c2.selectbox(t("admin.privacy.consent.status"), privacy.CONSENT_STATUSES, format_func=status_label)
        source = c3.text_input(t("admin.privacy.consent.source"), max_chars=100)
        if st.form_submit_button(t("admin.privacy.consent.save")):
            try:
                privacy.record_consent(user, cid, channel, status, source)
            except (privacy.PrivacyError, auth.PermissionDenied) as exc:
                ui.show_error(exc)
            else:
                st.session_state["privacy_flash"] = t(
                    "admin.privacy.consent.saved", channel=channel_label(channel), status=status_label(status)
                )
                st.rerun()
    with st.expander(t("admin.privacy.consent.history")):
        st.dataframe(
            i18n.display_frame(privacy.consent_history(user, cid), CONSENT_CODES, headers="dash.consent.col"),
            hide_index=True,
            width="stretch",
        )

with tab_export:
    st.caption(t("admin.privacy.export.caption"))
    if st.button(t("admin.privacy.export.prepare")):
        data = privacy.export_subject(user, cid)
        st.session_state["subject_export"] = (
            cid,
            json.dumps(data, ensure_ascii=False, indent=2),
            len(data["tables"]),
            sum(len(v) for v in data["tables"].values()),
        )
    export = st.session_state.get("subject_export")
    if export and export[0] == cid:
        st.caption(t("admin.privacy.export.ready", tables=export[2], rows=f"{export[3]:,}"))
        st.download_button(
            t("admin.privacy.export.download"),
            export[1].encode("utf-8"),
            file_name=f"customer-{cid}.json",
            mime="application/json",
            on_click="ignore",
        )  # audited when prepared

with tab_erase:
    st.warning(t("admin.privacy.erase.caption"))
    with st.form("erase", clear_on_submit=True):
        reason = st.text_input(t("admin.privacy.reason"), max_chars=500, key="erase_reason")
        typed = st.text_input(t("admin.privacy.erase.type_id"), max_chars=20)
        submitted = st.form_submit_button(
            t("admin.privacy.erase.button"), type="primary", disabled=summary["erased_at"] is not None
        )
    if submitted:
        if typed.strip() != str(cid):
            st.error(t("admin.privacy.erase.mismatch"))
        else:
            try:
                result = privacy.erase_customer(user, cid, reason)
            except (privacy.PrivacyError, auth.PermissionDenied) as exc:
                ui.show_error(exc)
            else:
                st.cache_data.clear()
                st.session_state["privacy_flash"] = t("admin.privacy.erase.done", id=cid, n=len(result["records"]))
                st.rerun()
