"""Customer search: name (partial, pinyin too), full mobile or email, id or company; paginated."""

import streamlit as st

from lib.dashboards import customers
from lib.core import i18n
from lib import ui
from lib.core.i18n import t

user = ui.guard("customers")

st.title(t("dash.search.title"))
query = ui.url_text_input(
    t("dash.search.box"),
    "q",
    key="dash_search_q",
    help=t("dash.search.help"),
    placeholder="张伟 · zhangwei · 13812345678 · name@example.com · 1024",
)
if st.session_state.get("dash_search_last") != query:
    st.session_state["dash_search_last"] = query
    st.session_state["dash_search_page"] = 1
if not query.strip():
    st.info(t("dash.search.start"))
    st.stop()

with ui.shown(stop=True):
    result = customers.search(user, query, page=st.session_state.get("dash_search_page", 1))
if result.total == 0:
    st.warning(t("dash.search.none", query=query))
    st.stop()

rows = i18n.display_frame(result.rows, {"channel": "dash.channel", "lifecycle_stage": "dash.stage"}, headers="dash.col")
st.dataframe(
    rows,
    hide_index=True,
    column_config={
        t("dash.col.customer_id"): st.column_config.NumberColumn(format="%d"),
        t("dash.col.registered_at"): st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
    },
)
ui.paginator(result.total, result.page_size, "dash_search_page")

st.caption(t("dash.search.open"))
cols = st.columns(4)
for i, row in enumerate(result.rows.itertuples()):
    name = row.full_name if isinstance(row.full_name, str) and row.full_name else t("dash.unknown")
    if cols[i % 4].button(
        f"{row.customer_id} · {name}", key=f"dash_open_{row.customer_id}", icon=":material/person:", type="tertiary"
    ):
        ui.open_customer_360(row.customer_id)
searched_by = customers.parse_query(query).readings()
ui.download(
    user,
    result.rows,
    f"customers_page_{result.page}",
    key="dash_search_csv",
    what="customer_search",
    filters={"searched_by": searched_by, "page": result.page, "matches": result.total},
)
