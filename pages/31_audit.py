"""Audit log: filter by user, action, record and dates; paginated in SQL; CSV export (audited)."""

import math

import streamlit as st

from lib.admin import audit_log as audit_trail
from lib import ui
from lib.core import i18n
from lib.core.i18n import t

user = ui.guard("audit")

st.title(t("nav.audit"))
st.caption(t("admin.audit.caption"))

options = audit_trail.choices(user)
ANY = ""
fmt = lambda v: t("admin.audit.any") if v == ANY else v  # noqa: E731
action_name = lambda v: i18n.code_text("admin.audit.act", v)  # noqa: E731
entity_name = lambda v: i18n.code_text("admin.audit.ent", v)  # noqa: E731
c1, c2, c3, c4, c5 = st.columns([1, 1.3, 1, 1, 1.4])
username = c1.selectbox(t("admin.audit.user"), [ANY, *options["username"]], format_func=fmt)
action = c2.selectbox(
    t("admin.audit.action"), [ANY, *options["action"]], format_func=lambda v: fmt(v) if v == ANY else action_name(v)
)
entity = c3.selectbox(
    t("admin.audit.entity"), [ANY, *options["entity"]], format_func=lambda v: fmt(v) if v == ANY else entity_name(v)
)
record = c4.text_input(t("admin.audit.record"), help=t("admin.audit.record.help"), max_chars=200)
dates = c5.date_input(t("admin.audit.dates"), value=(), format="YYYY-MM-DD")
start = dates[0] if len(dates) > 0 else None
end = dates[1] if len(dates) > 1 else start
filters = audit_trail.AuditFilter(username or None, action or None, entity or None, record or None, start, end)

page_size = audit_trail.PAGE_SIZE
total = audit_trail.count(user, filters)
pages = max(1, math.ceil(total / page_size))
left, right = st.columns([3, 1])
page = right.number_input(t("admin.audit.page"), min_value=1, max_value=pages, value=1, step=1)
rows, _ = audit_trail.search(user, filters, page=int(page), page_size=page_size)
left.markdown(
    ui.plural("admin.audit.matches", total)
    + " · "
    + t("admin.audit.page_of", page=ui.fmt_int(page), pages=ui.fmt_int(pages))
)

if rows.empty:
    st.info(t("admin.audit.empty"))
else:
    rows = rows.assign(  # a setting's record is its name: shown by its label
        entity_id=[
            i18n.code_label("common.setting", r) if e == "setting" else r
            for e, r in zip(rows["entity"], rows["entity_id"])
        ]
    )
    shown = i18n.display_frame(
        rows.drop(columns=["audit_id"]),
        {"action": action_name, "entity": entity_name, "roles": lambda r: ui.role_names(r)},
        headers="admin.audit.col",
        json=ui.audit_json("before", "after", "detail"),
    )
    st.dataframe(shown, hide_index=True, width="stretch")

if st.button(t("admin.audit.prepare_export"), disabled=total == 0):
    data, count = audit_trail.export_csv(user, filters)
    st.session_state["audit_export"] = (data, count)
if export := st.session_state.get("audit_export"):
    st.caption(ui.plural("admin.audit.export_ready", export[1]))
    st.download_button(
        t("common.download_csv"), export[0], file_name="audit_log.csv", mime="text/csv", on_click="ignore"
    )  # audited when prepared
