"""AppTest of the entry-rules page: stewards edit and save versions, managers are refused,
an invalid rule is rejected with a clear message, every save is audited."""

from __future__ import annotations

import json

import pytest

from lib.security import auth
from lib.stewardship import entry_rules
from lib.core import warehouse
from tests.app.helpers import as_user, open_page
from tests.stewards_fixtures import _stw_root, stw_empty  # noqa: F401 - fixtures

PAGE = "pages/14_entry_rules.py"


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_a_steward_sees_the_built_in_default_and_saves_a_source_version(stw_empty):
    at = open_page(as_user("steward"), PAGE)
    assert not at.exception
    at.text_input(key="er_new_source").input("febrl").run()
    assert at.info[0].value == "In force: the built-in default (never saved), version 0"
    prefix = "er_febrl_customers_0"
    assert at.selectbox(key=f"{prefix}_contact").value == "flag"
    assert at.selectbox(key=f"{prefix}_full_name").value == "quarantine"
    at.selectbox(key=f"{prefix}_birth_date").set_value("flag")
    country = at.selectbox(key=f"{prefix}_default_country")
    assert country.value == "CN" and country.options[0] == "China" and "Australia" in country.options
    country.set_value("AU")
    at.text_input(key=f"{prefix}_note").input("FEBRL extract: Australian rows")
    button(at, "Save a new version").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Saved: version 1 of the Customers rules of febrl is in force."
    rules = entry_rules.in_force("febrl", "customers")
    assert (rules.version, rules.origin, rules.country) == (1, "source", "AU")
    assert rules.required == {
        "source_record_id": "quarantine",
        "full_name": "quarantine",
        "contact": "flag",
        "birth_date": "flag",
    }
    entry = warehouse.one(
        "SELECT username, entity_id, CAST(before AS VARCHAR) AS b, "
        "CAST(after AS VARCHAR) AS a, CAST(detail AS VARCHAR) AS d FROM audit_log "
        "WHERE action = 'entry_rules.save'"
    )
    assert (entry["username"], entry["entity_id"], entry["b"]) == ("steward", "febrl/customers", None)
    assert json.loads(entry["a"]) == {"version": 1, "required": rules.required, "default_country": "AU"}
    assert json.loads(entry["d"]) == {"note": "FEBRL extract: Australian rows"}


def test_an_invalid_rule_is_rejected_with_a_clear_message_and_nothing_saved(stw_empty, users):
    at = open_page(as_user("steward"), PAGE)
    at.text_input(key="er_new_source").input("febrl").run()
    offered = at.selectbox(key="er_febrl_customers_0_default_country").options
    assert len(offered) > 200 and "Åland Islands" in offered and "AX" not in offered  # only countries, by name
    with pytest.raises(entry_rules.EntryRuleError, match="'Atlantis' is not a country: give an ISO code"):
        entry_rules.save(users["steward"], "febrl", "customers", {"contact": "flag"}, country="Atlantis")
    assert entry_rules.stored_version("febrl", "customers") == 0
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'entry_rules.save'") == 0


def test_a_second_save_appends_a_version_and_shows_the_history(stw_empty, users):
    entry_rules.save(users["steward"], "crm", "customers", {"contact": "quarantine"})
    at = open_page(as_user("admin"), PAGE)
    at.selectbox(key="er_source").set_value("crm").run()
    assert at.info[0].value == "In force: this source's own rules, version 1"
    at.selectbox(key="er_crm_customers_1_contact").set_value("flag")
    button(at, "Save a new version").click().run()
    assert not at.error
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["Version", "Required fields", "Default country", "Why", "Saved by", "Saved at"]
    assert shown["Required fields"].tolist() == [
        "Source record ID: quarantine, Contact: flag",
        "Source record ID: quarantine, Contact: quarantine",
    ]
    hist = entry_rules.history("crm", "customers")
    assert hist["version"].tolist() == [2, 1] and hist["saved_by"].tolist() == ["admin", "steward"]
    assert json.loads(hist["required"].iloc[0])["contact"] == "flag"


def test_a_manager_is_refused_by_the_page_and_by_lib(stw_empty, users):
    at = open_page(as_user("manager"), PAGE)
    assert any("do not allow" in e.value for e in at.error)
    assert not at.button or all(b.label != "Save a new version" for b in at.button)
    try:
        entry_rules.save(users["manager"], "crm", "customers", {"contact": "quarantine"})
    except auth.PermissionDenied:
        pass
    else:
        raise AssertionError("a manager saved entry rules")
    assert entry_rules.stored_version("crm", "customers") == 0


def test_the_import_page_shows_the_rules_in_force_and_the_sources_country(stw_empty, users):
    entry_rules.save(users["steward"], "febrl", "customers", {"contact": "flag"}, country="AU")
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert not at.exception
    assert at.expander[0].label == "Entry rules in force: the built-in default (never saved), version 0"
    at.text_input(key="imp_source").input("febrl").run()
    assert at.expander[0].label == "Entry rules in force: this source's own rules, version 1"
    assert at.selectbox(key="imp_country_febrl_customers").value == "AU"
    assert [m.value for m in at.expander[0].markdown] == [
        "- Source record ID (source_record_id): quarantine",
        "- Contact (contact): flag",
        "- Country: Australia (AU)",
    ]


def test_a_not_contactable_record_is_fixed_from_the_review_queue(stw_empty, tmp_path, users):
    from lib.stewardship import importer

    csv = tmp_path / "c.csv"
    csv.write_text("id,name,country\nN1,Anna Smith,AU\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", csv, "febrl", match_duplicates=False)
    flag_id = int(warehouse.scalar("SELECT flag_id FROM quality_flags WHERE rule_id = 'import.contact'"))
    at = open_page(as_user("steward"), "pages/12_review_queue.py")
    assert not at.exception
    at.selectbox(key="rq_item").set_value(f"flag:{flag_id}").run()
    assert "Not contactable (no valid mobile or email)" in at.selectbox(key="rq_item").format_func(f"flag:{flag_id}")
    at.text_input(key=f"fix_{flag_id}_mobile").input("0412 345 678")
    button(at, "Validate and save").click().run()
    assert not at.exception and not at.error
    assert warehouse.one("SELECT mobile FROM customers WHERE source_record_id = 'N1'") == {"mobile": "+61412345678"}
    assert warehouse.scalar("SELECT status FROM quality_flags WHERE flag_id = :f", f=flag_id) == "resolved"


def test_the_page_speaks_chinese(stw_empty, users):
    entry_rules.save(users["steward"], "*", "customers", {"contact": "quarantine"}, country="CN")
    at = as_user("steward")
    at.sidebar.selectbox(key="lang_switch").select("zh").run()
    open_page(at, PAGE)
    assert not at.exception
    assert at.title[0].value == "录入规则"
    assert at.info[0].value == "当前生效：来源 * 的默认规则，第 1 版"
    assert [b.label for b in at.button if b.label.startswith("保存")] == ["保存为新版本"]
    assert list(at.dataframe[0].value.columns) == ["版本", "必填字段", "默认国家", "原因", "保存人", "保存时间"]
    assert at.dataframe[0].value["默认国家"].tolist() == ["中国"]
    assert at.selectbox(key="er_*_customers_1_default_country").options[:1] == ["中国"]
    assert "澳大利亚" in at.selectbox(key="er_*_customers_1_default_country").options
    assert at.dataframe[0].value["必填字段"].tolist() == ["来源记录编号: 隔离, 联系方式: 隔离"]
