"""Customer 360 home: the login form, then a landing view for the user's roles."""

import streamlit as st

from lib.dashboards import charts, metrics
from lib.core import config, settings
from lib.security import navigation
from lib import ui
from lib.dashboards.filters import default as default_filters
from lib.core.i18n import t

user = ui.guard()


@ui.cached
def _monthly_trend(as_of):
    return metrics.monthly_trends(default_filters(as_of))


st.title(t("app.title"))
st.caption(
    t("app.welcome", name=user.name or user.username)
    + " · "
    + t("app.your_roles", roles=", ".join(t(f"role.{r}") for r in sorted(user.roles)))
)

kpis = metrics.home_kpis()
if not kpis.get("customers"):
    st.info(t("common.empty_warehouse"))
else:
    ui.kpi_row(
        [
            {"label": t("kpi.customers"), "value": ui.fmt_int(kpis["customers"]), "help": t("kpi.customers.help")},
            {
                "label": t("kpi.new_this_month"),
                "value": ui.fmt_int(kpis["new_this_month"]),
                "help": t("kpi.new_this_month.help"),
            },
            {
                "label": t("kpi.active_90d"),
                "value": ui.fmt_int(kpis["active_customers"]),
                "help": t("kpi.active_90d.help"),
            },
            {
                "label": t("kpi.revenue_12m"),
                "value": ui.fmt_money_short(kpis["revenue_12m"]),
                "help": t("kpi.revenue_12m.help"),
            },
        ]
    )
    st.caption(t("app.as_of", date=settings.as_of().isoformat()))
    # The revenue trend of the last twelve complete months (the Overview's default window).
    # Besides being the first thing a manager asks, it loads the charting library into this tab
    # while the user reads the landing page, so the first dashboard they open draws at once
    # (plotly.js takes ~1.3 s to load in a 2-core browser; measured in docs/benchmarks.md).
    monthly = _monthly_trend(settings.as_of())
    ui.chart(
        user,
        charts.monthly_revenue(monthly),
        monthly,
        "monthly_revenue",
        "home_revenue",
        filters={"window": "last 12 complete months", "as_of": settings.as_of().isoformat()},
    )

st.subheader(t("app.your_pages"))
pages = navigation.allowed(user.roles)
for col, page in zip(st.columns(3) * (len(pages) // 3 + 1), pages):
    col.page_link(page.path, label=t(f"nav.{page.key}"), icon=page.icon)

if config.demo_mode():
    st.caption(t("app.demo_mode"))
