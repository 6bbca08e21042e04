"""Entry rules: what is in force for a source, what may be saved, versions, audit, and their
effect on an import of orders and on the fix form."""

from __future__ import annotations

import json

import pytest

from lib.security import auth
from lib.stewardship import edits, entry_rules, importer
from lib.core import validation, warehouse
from tests.stewards_fixtures import _stw_root, stw_empty, stw_wh  # noqa: F401 - fixtures


def test_without_stored_rules_the_built_in_default_is_in_force(stw_empty):
    rules = entry_rules.in_force("anything", "customers")
    assert (rules.origin, rules.version, rules.country) == ("built-in", 0, None)
    assert rules.required == {"source_record_id": "quarantine", "full_name": "quarantine", "contact": "flag"}
    assert entry_rules.in_force("anything", "orders").required == {
        "source_record_id": "quarantine",
        "customer_key": "quarantine",
        "order_time": "quarantine",
        "amount": "quarantine",
    }


def test_a_sources_own_rules_win_over_the_star_rules_which_win_over_the_built_in(stw_empty, users):
    entry_rules.save(users["steward"], "*", "customers", {"contact": "quarantine"}, country="CN")
    entry_rules.save(users["steward"], "febrl", "customers", {"birth_date": "flag"}, country="AU")
    assert entry_rules.in_force("febrl", "customers").as_dict() | {"saved_at": None} == {
        "source": "febrl",
        "kind": "customers",
        "origin": "source",
        "version": 1,
        "required": {"source_record_id": "quarantine", "birth_date": "flag"},
        "default_country": "AU",
        "note": None,
        "saved_by": "steward",
        "saved_at": None,
    }
    other = entry_rules.in_force("crm", "customers")
    assert (other.origin, other.required, other.country) == (
        "default",
        {"source_record_id": "quarantine", "contact": "quarantine"},
        "CN",
    )


@pytest.mark.parametrize(
    "kind, required, country, message",
    [
        ("customers", {"shoe_size": "flag"}, None, "'shoe_size' is not a customers field; use one of: "),
        (
            "customers",
            {"full_name": "warn"},
            None,
            "full_name: a missing value must 'quarantine' the row or 'flag' it, not 'warn'.",
        ),
        (
            "customers",
            {"source_record_id": "flag"},
            None,
            "source_record_id identifies the row: it is always "
            "required and a row without it always goes to the quarantine.",
        ),
        (
            "orders",
            {"category": "flag"},
            None,
            "category: orders have no quality flags, so a required orders field can only quarantine the row.",
        ),
        ("orders", {"amount": "flag"}, None, "amount: orders have no quality flags"),
        ("customers", {}, "Atlantis", "'Atlantis' is not a country: give an ISO code such as AU, GB, US or CN."),
        ("things", {}, None, "Unknown kind 'things': use one of customers, orders, events."),
    ],
)
def test_invalid_rules_are_refused_with_a_message(stw_empty, users, kind, required, country, message):
    with pytest.raises(entry_rules.EntryRuleError) as exc:
        entry_rules.save(users["steward"], "crm", kind, required, country=country)
    assert str(exc.value).startswith(message)
    assert warehouse.scalar("SELECT count(*) FROM entry_rules") == 0


def test_a_bad_source_name_is_refused(stw_empty, users):
    with pytest.raises(entry_rules.EntryRuleError, match="The source name must be 1-40 letters"):
        entry_rules.save(users["steward"], "my source!", "customers", {})


def test_saves_append_versions_audited_before_and_after(stw_empty, users):
    entry_rules.save(users["steward"], "crm", "customers", {"contact": "quarantine"})
    entry_rules.save(
        users["admin"], "crm", "customers", {"contact": "flag"}, country="gb", note="UK shop", expected_version=1
    )
    assert entry_rules.history("crm", "customers")["version"].tolist() == [2, 1]
    audits = warehouse.read(
        "SELECT username, CAST(before AS VARCHAR) AS b, CAST(after AS VARCHAR) AS a "
        "FROM audit_log WHERE action = 'entry_rules.save' ORDER BY audit_id"
    )
    assert audits["username"].tolist() == ["steward", "admin"]
    assert json.loads(audits["b"].iloc[1]) == {
        "version": 1,
        "required": {"source_record_id": "quarantine", "contact": "quarantine"},
        "default_country": None,
    }
    assert json.loads(audits["a"].iloc[1]) == {
        "version": 2,
        "required": {"source_record_id": "quarantine", "contact": "flag"},
        "default_country": "GB",
    }


def test_a_save_on_a_stale_version_is_refused(stw_empty, users):
    entry_rules.save(users["steward"], "crm", "customers", {"contact": "quarantine"})
    with pytest.raises(entry_rules.EntryRuleConflict, match="changed by steward since you opened them"):
        entry_rules.save(users["admin"], "crm", "customers", {"contact": "flag"}, expected_version=0)
    assert entry_rules.stored_version("crm", "customers") == 1


@pytest.mark.parametrize("username", ["manager", "marketing"])
def test_only_stewards_and_admins_may_change_rules(stw_empty, users, username):
    with pytest.raises(auth.PermissionDenied):
        entry_rules.save(users[username], "crm", "customers", {"contact": "quarantine"})
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'access.denied'") == 1


def test_an_extra_required_order_field_quarantines_orders_without_it(stw_empty, tmp_path, users):
    (tmp_path / "c.csv").write_text("id,name\nC1,Anna\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "shop", match_duplicates=False)
    entry_rules.save(users["steward"], "shop", "orders", {"category": "quarantine"})
    (tmp_path / "o.csv").write_text(
        "order_id,customer_id,order_date,amount,category\nO1,C1,2025-01-01,10,shoes\nO2,C1,2025-01-02,20,\n",
        encoding="utf-8",
    )
    r = importer.import_file(users["steward"], "orders", tmp_path / "o.csv", "shop")
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    reasons = json.loads(warehouse.scalar("SELECT CAST(reasons AS VARCHAR) FROM quarantine"))
    assert [(x["field"], x["code"]) for x in reasons] == [("category", "required.missing")]


def test_a_flagged_optional_field_loads_the_row_with_an_import_flag(stw_empty, tmp_path, users):
    entry_rules.save(users["steward"], "x", "customers", {"birth_date": "flag", "postcode": "quarantine"})
    (tmp_path / "c.csv").write_text(
        "id,name,birth_date,postcode\n1,Anna,,518000\n2,Ben,1990-01-01,\n", encoding="utf-8"
    )
    r = importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "x", match_duplicates=False)
    assert (r.rows_loaded, r.rows_quarantined, r.rows_flagged) == (1, 1, 1)
    assert warehouse.read("SELECT rule_id FROM quality_flags")["rule_id"].tolist() == ["import.birth_date"]


def test_the_fix_form_follows_the_rules_of_the_records_source(stw_wh, users):
    cid = 1
    source = edits.get(users["steward"], cid)["source"]
    record = edits.get(users["steward"], cid)
    # built-in rules: removing both contacts is allowed (the record becomes not contactable)
    assert validation.customer_fields(
        {"mobile": None, "email": None}, record, required=entry_rules.in_force(source, "customers").required
    ) == {"mobile": None, "email": None}
    entry_rules.save(
        users["steward"],
        source,
        "customers",
        {"full_name": "quarantine", "contact": "quarantine", "postcode": "quarantine"},
    )
    with pytest.raises(validation.ValidationError) as exc:
        edits.update_customer(
            users["steward"], cid, {"mobile": None, "email": None, "postcode": None}, record["version"]
        )
    assert sorted((e.field, e.code) for e in exc.value.errors) == [
        ("mobile", "required.contact"),
        ("postcode", "required.missing"),
    ]


def test_adding_a_contact_resolves_the_not_contactable_flag(stw_empty, tmp_path, users):
    (tmp_path / "c.csv").write_text("id,name,country\n1,Anna Smith,AU\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "x", match_duplicates=False)
    cid = int(warehouse.scalar("SELECT customer_id FROM customers"))
    edits.update_customer(users["steward"], cid, {"mobile": "0412 345 678"}, 1)
    assert edits.get(users["steward"], cid)["mobile"] == "+61412345678"
    assert warehouse.scalar("SELECT status FROM quality_flags WHERE rule_id = 'import.contact'") == "resolved"


def test_the_cli_sets_and_shows_rules_and_refuses_bad_ones_in_one_line(stw_empty, capsys):
    from lib import cli

    assert (
        cli.main(
            [
                "entry-rules",
                "set",
                "--source",
                "febrl",
                "--require",
                "full_name=quarantine",
                "--require",
                "contact=flag",
                "--require",
                "birth_date=flag",
                "--country",
                "AU",
                "--note",
                "FEBRL",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == [
        "saved: entry rules for source febrl:",
        "customers (source, version 1)",
        "  Source record ID (source_record_id): quarantine",
        "  Name (full_name): quarantine",
        "  Contact (contact): flag",
        "  Birth date (birth_date): flag",
        "  Country: Australia (AU)",
    ]
    assert warehouse.scalar("SELECT username FROM audit_log WHERE action = 'entry_rules.save'") == "system"
    assert cli.main(["entry-rules", "set", "--source", "febrl", "--require", "contact=maybe"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: contact: a missing value must 'quarantine' the row or 'flag' it, not 'maybe'."
    )
    assert cli.main(["entry-rules", "show", "--source", "febrl", "--kind", "customers", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(r["origin"], r["version"], r["default_country"]) for r in shown] == [("source", 1, "AU")]


def test_a_file_without_a_column_the_rules_quarantine_on_is_refused_before_any_row(stw_empty, tmp_path, users):
    entry_rules.save(users["steward"], "crm", "customers", {"full_name": "quarantine", "contact": "quarantine"})
    (tmp_path / "c.csv").write_text("id,name,city\n1,Anna,Perth\n", encoding="utf-8")
    with pytest.raises(importer.ImportProblem) as exc:
        importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "crm", match_duplicates=False)
    assert str(exc.value) == "Map a column to each required field: Contact"
    entry_rules.save(users["steward"], "crm", "customers", {"contact": "flag"}, expected_version=1)
    r = importer.import_file(users["steward"], "customers", tmp_path / "c.csv", "crm", match_duplicates=False)
    assert (r.rows_loaded, r.rows_quarantined) == (1, 0)
