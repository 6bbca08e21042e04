"""Overview, search and Customer 360° render for every role, with PII masked per role."""

from __future__ import annotations

import json

import pytest

from tests import dashboards_fixture as fixture
from tests.app.helpers import as_user, open_page

ROLES = ["manager", "marketing", "steward", "admin"]
UNMASKED = {"steward", "admin"}


@pytest.fixture
def small(warehouse_path):
    fixture.build()
    return warehouse_path


def _texts(at) -> str:
    parts = [str(e.value) for e in at.markdown] + [str(e.value) for e in at.caption]
    parts += [str(e.value) for e in at.title] + [m.value for m in at.metric]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


@pytest.mark.parametrize("username", ROLES)
def test_overview_shows_every_kpi_with_true_numbers(small, username):
    at = open_page(as_user(username), "pages/01_overview.py")
    assert not at.exception, at.exception
    cards = {m.label: m.value for m in at.metric}
    # default period: the twelve complete months before June 2026 (2025-06-01..2026-05-31)
    assert len(cards) == 10  # eight KPIs, NPS and CSAT (tests/app/test_feedback_pages.py)
    assert cards["Customers"] == "6" and cards["New customers"] == "3"  # 8 (June), 5, 2
    assert [c.key for c in at.get("plotly_chart")] == ["trend_customers_chart", "trend_revenue_chart"]


OVERVIEW_VIEWS = {
    "Monthly trends": ["trend_customers_chart", "trend_revenue_chart"],
    "Breakdowns": [
        "breakdown_channel_chart",
        "breakdown_customer_type_chart",
        "breakdown_province_chart",
        "breakdown_industry_chart",
    ],
    "Lifecycle and cohorts": ["funnel_chart", "cohorts_chart"],
    "Customer feedback": ["trend_feedback_chart"],
}


@pytest.mark.parametrize("view", OVERVIEW_VIEWS)
def test_overview_draws_only_the_open_views_charts_and_a_shared_url_opens_it(small, view):
    at = as_user("manager")
    at.query_params["view"] = view  # a link to the view, as shared
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == list(OVERVIEW_VIEWS)
    assert [c.key for c in at.get("plotly_chart")] == OVERVIEW_VIEWS[view]
    assert len(at.metric) == 10  # the KPI cards (and NPS / CSAT) stay above every view


@pytest.mark.parametrize("username", ROLES)
def test_home_shows_the_revenue_trend_of_the_overviews_default_window(small, username):
    import json

    from lib.dashboards import metrics
    from lib.core import settings
    from lib.dashboards.filters import default

    at = as_user(username)
    at.run()
    assert not at.exception, at.exception
    (chart,) = at.get("plotly_chart")
    bars = json.loads(chart.proto.spec)["data"][0]
    monthly = metrics.monthly_trends(default(settings.as_of()))
    ys = _values(bars["y"])
    assert len(_values(bars["x"])) == len(monthly) == 12
    assert ys == pytest.approx(monthly["revenue"].tolist()) and sum(ys) > 0


def _values(encoded) -> list:
    """A plotly JSON array: a list, or plotly 6's typed array ({"dtype", "bdata": base64})."""
    if isinstance(encoded, dict) and "bdata" in encoded:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"]).tolist()
    return list(encoded)


def test_overview_filters_apply_and_land_in_the_url(small):
    at = open_page(as_user("manager"), "pages/01_overview.py")
    at.sidebar.multiselect(key="dash_f_channel").select("app").run()
    assert not at.exception
    cards = {m.label: m.value for m in at.metric}
    assert cards["Customers"] == "1" and cards["Revenue"] == "¥500"
    assert at.query_params["ch"] in ("app", ["app"])


@pytest.mark.parametrize("username", ROLES)
def test_search_masks_contacts_unless_the_role_may_see_them(small, username):
    at = as_user(username)
    at.query_params["q"] = "13812345678"
    open_page(at, "pages/02_customers.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.iloc[0, 0] == 1
    text = _texts(at)
    if username in UNMASKED:
        assert "+8613812345678" in text and "zhang.san@example.com" in text
    else:
        assert "+86 138****5678" in text and "+8613812345678" not in text
        assert "zhang.san@example.com" not in text


@pytest.mark.parametrize("username", ROLES)
def test_customer_360_renders_with_masking(small, username):
    at = as_user(username)
    at.query_params["id"] = "1"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "张三 · #1"
    text = _texts(at)
    assert ("+8613812345678" in text) == (username in UNMASKED)
    assert ("+86 138****5678" in text) == (username not in UNMASKED)
    assert "Repeat" in text  # lifecycle stage card
    assert len(at.get("plotly_chart")) == 1  # the timeline


def test_customer_360_unknown_id_says_so(small):
    at = as_user("manager")
    at.query_params["id"] = "999"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception
    assert any("999" in w.value for w in at.warning)


# ---------------------------------------------------------------- tables in Chinese


@pytest.fixture
def downloads(monkeypatch):
    """What every download button the page draws would hand out, by widget key: bytes, or the
    callable a lazy (audited) download runs on the click - call it to download."""
    import streamlit as st

    real, seen = st.download_button, {}

    def capture(label, data, *args, **kwargs):
        seen[kwargs.get("key")] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", capture)
    return seen


@pytest.fixture
def in_chinese():
    """Switches a session to Chinese with the sidebar's language switch, as a person would."""
    from lib.core import i18n

    def switch(at):
        at.sidebar.selectbox(key="lang_switch").select("zh").run()
        assert not at.exception, at.exception
        return at

    yield switch
    i18n.set_language("en")


def test_the_chosen_language_survives_page_switches(small, in_chinese):
    at = in_chinese(as_user("manager"))
    assert at.sidebar.selectbox(key="lang_switch").value == "zh"
    for page, title in (("pages/02_customers.py", "查找客户"), ("pages/01_overview.py", "总览")):
        open_page(at, page)
        assert not at.exception, at.exception
        assert at.title[0].value == title and at.sidebar.selectbox(key="lang_switch").value == "zh"
        assert at.query_params["lang"] in ("zh", ["zh"])
    at.sidebar.selectbox(key="lang_switch").select("en").run()
    assert at.title[0].value == "Overview"


def test_overview_names_channels_and_stages_in_chinese_in_filters_and_charts(small, in_chinese):
    import json

    at = in_chinese(as_user("manager"))
    at.query_params["view"] = "构成分析"  # the Breakdowns tab, in Chinese
    open_page(at, "pages/01_overview.py")
    assert not at.exception, at.exception
    channels = at.sidebar.multiselect(key="dash_f_channel")
    assert "网站" in channels.options and "web" not in channels.options
    assert "复购客户" in at.sidebar.multiselect(key="dash_f_lifecycle_stage").options
    chart = next(c for c in at.get("plotly_chart") if c.key == "breakdown_channel_chart")
    bars = json.loads(chart.proto.spec)["data"][0]["y"]
    assert "网站" in bars and "web" not in bars
    # chosen by its shown name, as the browser sends it; the URL keeps the stored code
    channels.select("网站").run()
    assert at.query_params["ch"] in ("web", ["web"])


def _table(at, column: str):
    """The displayed table with this column header."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_search_results_show_chinese_headers_and_stage_and_channel_labels(small, in_chinese, downloads):
    at = in_chinese(as_user("manager"))
    at.query_params["q"] = "13812345678"
    open_page(at, "pages/02_customers.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "编号",
        "姓名",
        "公司",
        "手机",
        "邮箱",
        "省份",
        "城市",
        "类型",
        "渠道",
        "阶段",
        "注册时间",
    ]
    assert table[["编号", "类型", "渠道", "阶段"]].values.tolist() == [[1, "B2C", "网站", "复购客户"]]
    # the download stays machine-readable: stored codes under the stored column names
    csv = downloads["dash_search_csv"]().decode("utf-8-sig").splitlines()
    assert csv[0].startswith("customer_id,full_name,") and csv[1].endswith(",B2C,web,repeat,2024-01-01")


def test_customer_360_tables_show_chinese_headers_and_labels(small, users, in_chinese, downloads):
    from lib.stewardship import edits
    from lib.core import warehouse
    from tests import factories as fx

    with warehouse.transaction() as tx:
        fx.consent(tx, 4, "sms", "granted", fixture.dt(2024, 1, 2), source="signup_form")
        fx.consent(tx, 4, "sms", "withdrawn", fixture.dt(2025, 3, 1), source="sms_reply_td")
        fx.consent(tx, 4, "email", "granted", fixture.dt(2024, 1, 2), source="展会登记")  # free text
        tx.run("UPDATE customers SET source = 'shop', country = 'CN', province = '浙江省' WHERE customer_id = 4")
    edits.update_customer(users["steward"], 4, {"city": "杭州市"}, 1)
    at = in_chinese(as_user("manager"))
    at.query_params["id"] = "4"
    open_page(at, "pages/03_customer_360.py")
    assert not at.exception, at.exception

    profile = at.dataframe[0].value
    fields = dict(zip(profile["field"], profile["value"]))
    assert (fields["性别"], fields["获客渠道"], fields["行业"], fields["类型"]) == ("男", "网站", "零售", "B2B")
    assert fields["来源记录"].split(" / ")[0] == "网店"  # the source system by name, not its code
    assert fields["地址"].startswith("中国 浙江省 杭州市")  # the country by name, not "CN"
    assert any(m.label == "生命周期阶段" and m.value == "流失客户" for m in at.metric)

    consents = _table(at, "获取途径")
    assert list(consents.columns) == ["渠道", "状态", "获取途径", "记录时间", "记录人", "当前生效"]
    assert consents[["渠道", "状态", "获取途径", "当前生效"]].values.tolist() == [
        ["邮件", "同意", "展会登记", True],
        ["短信", "撤回", "短信回复“TD”退订", True],
        ["短信", "同意", "注册表单", False],
    ]

    orders = _table(at, "下单时间")
    assert list(orders.columns) == [
        "订单编号",
        "下单时间",
        "状态",
        "金额（元）",
        "退款金额（元）",
        "渠道",
        "品类",
        "件数",
        "来源系统",
    ]
    assert orders[["状态", "渠道", "品类"]].values.tolist() == [
        ["部分退款", "网站", "服装"],
        ["已支付", "网站", "服装"],
    ]
    # one order's amounts with yuan sign, separators and cents ("¥5,408.07"), sorted as numbers
    grid = next(df for df in at.dataframe if "下单时间" in df.value.columns)
    formats = {
        name: c["type_config"]["format"] for name, c in json.loads(grid.proto.columns).items() if "type_config" in c
    }
    assert formats == {"金额（元）": "¥%,.2f", "退款金额（元）": "¥%,.2f"}

    csv = downloads["orders_csv"]().decode("utf-8-sig").splitlines()
    assert csv[0] == "order_id,order_time,status,amount,refund_amount,channel,category,item_count,source"
    assert [line.split(",")[2] for line in csv[1:]] == ["partially_refunded", "paid"]

    at.session_state["c360_tab"] = "变更历史"  # only the open tab is built
    at.run()
    assert not at.exception, at.exception
    history = _table(at, "操作")
    assert list(history.columns) == ["时间", "用户", "操作", "变更前", "变更后", "详情"]
    assert history[["用户", "操作"]].values.tolist() == [["steward", "修改资料"]]
