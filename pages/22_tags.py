"""Tags: one customer or a whole saved segment at once; the tag list with counts. Audited."""

import streamlit as st

from lib.security import auth
from lib.dashboards import charts
from lib.marketing import segments, tags
from lib.core import settings
from lib import ui
from lib.core.i18n import t

user = ui.guard("tags")
may_tag = auth.can(user, "manage_tags")

st.title(t("nav.tags"))
counts = tags.counts()
left, right = st.columns([2, 3])
with left:
    st.subheader(t("marketing.tags.list"))
    if counts.empty:
        st.info(t("marketing.tags.none"))
    else:
        st.dataframe(
            counts,
            hide_index=True,
            width="stretch",
            column_config={
                "tag": t("marketing.tags.tag"),
                "customers": st.column_config.NumberColumn(t("marketing.rfm.customers"), format="localized"),
                "last_used": st.column_config.DatetimeColumn(t("marketing.tags.last_used"), format="YYYY-MM-DD HH:mm"),
            },
        )
with right:
    st.plotly_chart(charts.tag_counts(counts), width="stretch")

st.divider()
one, bulk = st.columns(2)
with one:
    st.subheader(t("marketing.tags.one_title"))
    customer_id = st.number_input(
        t("marketing.tags.customer_id"), min_value=1, step=1, value=None, key="tags_customer_id"
    )
    if customer_id:
        current = tags.of_customer(int(customer_id))
        st.write(t("marketing.tags.current", tags=", ".join(current) if current else "–"))
        if may_tag:
            with st.form("tags_one", clear_on_submit=True):
                new_tag = st.text_input(t("marketing.tags.tag"), max_chars=40)
                add = st.form_submit_button(t("marketing.tags.add"), type="primary")
            if add:
                with ui.shown():
                    added = tags.add(user, int(customer_id), new_tag)
                    st.success(
                        t("marketing.tags.added" if added else "marketing.tags.already", tag=tags.clean_tag(new_tag))
                    )
                    if added:
                        st.rerun()
            if current:
                r1, r2 = st.columns([2, 1], vertical_alignment="bottom")
                gone = r1.selectbox(t("marketing.tags.remove_which"), current, key="tags_remove_which")
                if r2.button(t("marketing.tags.remove"), key="tags_remove"):
                    with ui.shown():
                        tags.remove(user, int(customer_id), gone)
                        st.rerun()

with bulk:
    st.subheader(t("marketing.tags.bulk_title"))
    saved = segments.list_saved()
    if saved.empty:
        st.info(t("marketing.tags.bulk_need_segment"))
    else:
        names = saved["name"].tolist()
        name = st.selectbox(t("marketing.tags.segment"), names, key="tags_bulk_segment")
        row = segments.get(name=name)
        members = segments.stats(row["definition"], settings.as_of())["members"]
        st.caption(
            t(
                "marketing.tags.bulk_members",
                members=ui.fmt_int(members),
                definition=segments.describe(row["definition"]),
            )
        )
        if may_tag:
            bulk_tag = st.text_input(t("marketing.tags.tag"), max_chars=40, key="tags_bulk_tag")
            confirm = st.checkbox(
                t("marketing.tags.bulk_confirm", members=ui.fmt_int(members)), key="tags_bulk_confirm"
            )
            b1, b2 = st.columns(2)
            if b1.button(t("marketing.tags.bulk_add"), type="primary", disabled=not confirm, key="tags_bulk_add"):
                with ui.shown():
                    changed = tags.bulk_add(user, name, bulk_tag)
                    st.success(
                        t("marketing.tags.bulk_added", customers=ui.fmt_int(changed), tag=tags.clean_tag(bulk_tag))
                    )
            if b2.button(t("marketing.tags.bulk_remove"), disabled=not confirm, key="tags_bulk_remove"):
                with ui.shown():
                    changed = tags.bulk_remove(user, name, bulk_tag)
                    st.success(
                        t("marketing.tags.bulk_removed", customers=ui.fmt_int(changed), tag=tags.clean_tag(bulk_tag))
                    )
st.caption(t("marketing.tags.audited"))
