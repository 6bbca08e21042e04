"""Alerts inbox: admins see every alert, stewards data-quality alerts; acknowledge with a note."""

import streamlit as st

from lib import ui
from lib.admin import alerts, notify
from lib.core import i18n
from lib.core.i18n import t

user = ui.guard("alerts")
admin = user.can("manage_alerts")

st.title(t("nav.alerts"))
st.caption(t("alerts.caption") if admin else t("alerts.caption.steward"))

if flash := st.session_state.pop("alerts_flash", None):
    st.success(flash)

counts = alerts.counts(user)
ui.kpi_row(
    [
        {"label": t("alerts.kpi.open"), "value": ui.fmt_int(counts["open"])},
        {"label": t("alerts.kpi.high"), "value": ui.fmt_int(counts["high"])},
        {"label": t("alerts.kpi.acknowledged"), "value": ui.fmt_int(counts["acknowledged"])},
    ]
)

STATUSES = {"open": "open", "acknowledged": "acknowledged", "all": None}
show = st.radio(
    t("alerts.show"), list(STATUSES), format_func=lambda s: t(f"alerts.show.{s}"), horizontal=True, key="alerts_show"
)
inbox = alerts.inbox(user, STATUSES[show])
if inbox.empty:
    st.info(t("alerts.none"))
else:
    table = inbox.assign(summary=[alerts.describe(r) for r in inbox.to_dict("records")])
    table = table[
        [
            "alert_id",
            "raised_at",
            "last_seen_at",
            "severity",
            "category",
            "rule",
            "subject",
            "occurrences",
            "summary",
            "status",
            "acknowledged_by",
            "acknowledged_at",
            "note",
        ]
    ]
    for column in ("raised_at", "last_seen_at", "acknowledged_at"):
        table[column] = ui.fmt_times(table[column], "%Y-%m-%d %H:%M", missing="")
    shown = i18n.display_frame(
        table,
        codes={
            "severity": "alerts.severity",
            "category": "alerts.category",
            "rule": "alerts.rule",
            "status": "alerts.status",
        },
        headers="alerts.col",
    )
    st.dataframe(shown, hide_index=True, width="stretch")

open_rows = inbox[inbox["status"] == "open"] if not inbox.empty else inbox
if not open_rows.empty:
    st.subheader(t("alerts.ack.title"))
    labels = {
        int(r["alert_id"]): f"#{int(r['alert_id'])} · {t('alerts.rule.' + r['rule'])} · {r['subject']}"
        for r in open_rows.to_dict("records")
    }
    with st.form("acknowledge", clear_on_submit=True):
        chosen = st.selectbox(t("alerts.ack.alert"), list(labels), format_func=labels.get)
        note = st.text_area(t("alerts.ack.note"), max_chars=500)
        if st.form_submit_button(t("alerts.ack.button"), type="primary"):
            with ui.shown():
                alerts.acknowledge(user, int(chosen), note)
                st.session_state["alerts_flash"] = t("alerts.ack.done", id=int(chosen))
                st.rerun()

if admin:
    st.subheader(t("alerts.rules.title"))
    st.caption(t("alerts.rules.caption"))
    rules = alerts.rules_overview(user)
    st.dataframe(
        i18n.display_frame(
            rules, codes={"rule": "alerts.rule", "category": "alerts.category"}, headers="alerts.rules.col"
        ),
        hide_index=True,
        width="stretch",
    )
    st.page_link("pages/36_settings.py", label=t("alerts.rules.open_settings"), icon=":material/tune:")
    targets = notify.targets()
    names = [n for n, on in (("SMTP", targets.smtp), ("webhook", targets.webhook)) if on]
    st.caption(t("alerts.delivery.on", targets=", ".join(names)) if names else t("alerts.delivery.none"))
