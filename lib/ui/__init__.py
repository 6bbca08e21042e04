"""The Streamlit layer's shared pieces, one module per job; pages use them as `ui.<name>`.

* `session`: the page guard (login form, login cookie, server-side session check, sidebar);
* `filters`: the dashboards' filter state (sidebar <-> session state <-> URL);
* `widgets`: KPI cards (compact values, exact in the tooltip), number formats, plurals,
  tabs that stay open after an action, row selection, masked downloads, paging;
* `routes`: the HTTP route that writes the httpOnly login cookie (mounted by serve.py);
* `errors`: the one error renderer (`ui.shown()` around an action, `ui.show_error(exc)`);
* `cache`: the one cache policy (`@ui.cached`, keyed on the warehouse's data version).

Only `app.py`, `pages/` and `lib/ui/` import streamlit. Importing this package has no side
effects on the process (the garbage-collector freeze happens at the guard's first run).
"""

from lib.ui.cache import cached
from lib.ui.errors import render as show_error, shown
from lib.ui.filters import sidebar_filters
from lib.ui.session import COOKIE_NAME, client, guard, prepare_process
from lib.ui.session import _load_chart_library, _plotly_chunk  # noqa: F401 - tests reach them as ui._x
from lib.ui.widgets import (
    EMPTY,
    chart,
    audit_json,
    country_select,
    person_name,
    count_column,
    fmt_compact,
    kpi_value,
    money_column,
    open_tab,
    plural,
    role_names,
    selected_row,
    tabs,
    download,
    download_csv,
    fmt_int,
    fmt_money,
    fmt_times,
    fmt_money_short,
    fmt_pct,
    kpi_row,
    measure_picker,
    open_customer_360,
    paginator,
    parse_id,
    url_text_input,
)

__all__ = [
    "COOKIE_NAME",
    "EMPTY",
    "audit_json",
    "country_select",
    "person_name",
    "count_column",
    "fmt_compact",
    "kpi_value",
    "money_column",
    "open_tab",
    "plural",
    "role_names",
    "selected_row",
    "tabs",
    "cached",
    "chart",
    "client",
    "download",
    "download_csv",
    "fmt_int",
    "fmt_money",
    "fmt_money_short",
    "fmt_times",
    "fmt_pct",
    "guard",
    "kpi_row",
    "measure_picker",
    "open_customer_360",
    "paginator",
    "parse_id",
    "prepare_process",
    "show_error",
    "shown",
    "sidebar_filters",
    "url_text_input",
]
