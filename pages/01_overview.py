"""Overview: headline KPIs for everyone who may see dashboards."""
import streamlit as st

from lib import metrics, settings, ui
from lib.i18n import t

user = ui.guard("overview")

st.title(t("nav.overview"))
kpis = metrics.home_kpis()
if not kpis.get("customers"):
    st.info(t("common.empty_warehouse"))
    st.stop()
ui.kpi_row([
    {"label": t("kpi.customers"), "value": ui.fmt_int(kpis["customers"]), "help": t("kpi.customers.help")},
    {"label": t("kpi.new_this_month"), "value": ui.fmt_int(kpis["new_this_month"]), "help": t("kpi.new_this_month.help")},
    {"label": t("kpi.active_90d"), "value": ui.fmt_int(kpis["active_customers"]), "help": t("kpi.active_90d.help")},
    {"label": t("kpi.revenue_12m"), "value": ui.fmt_money(kpis["revenue_12m"]), "help": t("kpi.revenue_12m.help")},
])
st.caption(t("app.as_of", date=settings.as_of().isoformat()))
