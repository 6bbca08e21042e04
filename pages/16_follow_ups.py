"""My follow-ups: the signed-in user's open follow-ups, the longest overdue first; mark done."""

import streamlit as st

from lib import ui
from lib.core import i18n
from lib.core.i18n import t
from lib.stewardship import interactions

user = ui.guard("follow_ups")

st.title(t("nav.follow_ups"))
st.caption(t("ixn.fu.intro"))
message = st.session_state.pop("fu_flash", None)
if message:
    st.success(message)

items = interactions.follow_ups(user)
if items.empty:
    st.info(t("ixn.fu.none"))
    st.stop()

ui.kpi_row(
    [
        {"label": t("ixn.fu.open"), "value": ui.fmt_int(len(items))},
        {"label": t("ixn.fu.overdue"), "value": ui.fmt_int(int(items["overdue"].sum()))},
    ]
)
shown = items.assign(overdue=[t("ixn.yes") if o else t("ixn.no") for o in items["overdue"]])
st.dataframe(
    i18n.display_frame(
        shown,
        {
            "interaction_type": ("ixn.type", "dash.event"),
            "channel": ("ixn.channel", "dash.channel"),
            "outcome": "ixn.outcome",
        },
        headers="ixn.col",
    ),
    hide_index=True,
    width="stretch",
)

labels = {
    int(r.interaction_id): t(
        "ixn.fu.label",
        due=str(r.follow_up_on)[:10],
        customer=int(r.customer_id),
        name=r.full_name if isinstance(r.full_name, str) else "—",
        type=t(f"ixn.type.{r.interaction_type}"),
    )
    for r in items.itertuples(index=False)
}
choice = st.selectbox(t("ixn.fu.pick"), list(labels), format_func=labels.get, key="fu_pick")
c1, c2 = st.columns(2)
if c1.button(t("ixn.fu.done"), type="primary", key="fu_done"):
    with ui.shown():
        interactions.mark_done(user, choice)
        st.session_state["fu_flash"] = t("ixn.fu.marked")
        st.rerun()
c2.page_link(
    "pages/03_customer_360.py",
    label=t("ixn.fu.open_customer"),
    query_params={"id": str(int(items.loc[items["interaction_id"] == choice, "customer_id"].iloc[0]))},
    icon=":material/person:",
)
