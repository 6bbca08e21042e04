"""The New customer page and the Customer 360° Edit profile / Delete / Restore forms (issue #16)."""

from __future__ import annotations

import pytest

from lib.core import warehouse
from lib.security import auth
from lib.stewardship import records
from tests import factories as f
from tests.app.helpers import as_user, open_page

NEW = "pages/15_new_customer.py"
C360 = "pages/03_customer_360.py"


@pytest.fixture
def wh(warehouse_path):
    with warehouse.transaction() as tx:
        f.customer(tx, 1, full_name="李四", mobile="+8613900000000", email="li.si@example.com")
    return warehouse_path


def click(at, label: str):
    (button,) = [b for b in at.button if b.label == label]
    button.click()
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def fill_new(at, **values):
    for field, value in values.items():
        at.text_input(key=f"nc_0_{field}").input(value)
    return at


def customers() -> int:
    return int(warehouse.scalar("SELECT count(*) FROM customers"))


# ---------------------------------------------------------------- New customer


def test_a_steward_adds_a_valid_customer_and_gets_a_link_to_its_360_page(wh):
    at = open_page(as_user("steward"), NEW)
    fill_new(at, full_name="王小明", mobile="13800138000", email="wang@example.com", city="广州市")
    industry = at.selectbox(key="nc_0_industry")  # industries offered by name, stored as codes
    assert industry.format_func("professional_services") == "Professional services"
    industry.set_value("retail")
    click(at, "Check and save")
    assert texts(at.success) == ["Customer 2 was saved."]
    row = warehouse.one(
        "SELECT full_name, mobile, source, source_record_id, industry FROM customers WHERE customer_id = 2"
    )
    assert row == {
        "full_name": "王小明",
        "mobile": "+8613800138000",
        "source": "manual",
        "source_record_id": "M2",
        "industry": "retail",
    }
    assert at.text_input(key="nc_1_full_name").value == ""  # a fresh form for the next customer


def test_a_country_is_picked_by_name_and_its_phones_are_read_in_it(wh):
    at = open_page(as_user("steward"), NEW)
    country = at.selectbox(key="nc_0_country")
    assert country.value == "CN" and country.options[0] == "China"  # the default country first
    assert "Australia" in country.options and "AU" not in country.options
    fill_new(at, full_name="Anna Smith", mobile="0412 345 678")
    country.set_value("AU")
    click(at, "Check and save")
    assert not at.error, texts(at.error)
    row = warehouse.one("SELECT country, mobile FROM customers WHERE full_name = 'Anna Smith'")
    assert row == {"country": "AU", "mobile": "+61412345678"}


def test_an_invalid_field_is_named_and_nothing_is_saved(wh):
    at = open_page(as_user("steward"), NEW)
    fill_new(at, full_name="王小明", mobile="12345")
    click(at, "Check and save")
    assert texts(at.error) == [
        "Mobile is not a valid phone number (Chinese mobiles have 11 digits starting with 1; "
        "international numbers need +country code)."
    ]
    assert customers() == 1
    assert at.text_input(key="nc_0_mobile").value == "12345"  # kept for correction


def test_a_likely_duplicate_is_shown_before_saving_with_links_to_the_existing_customer(wh):
    at = open_page(as_user("steward"), NEW)
    fill_new(at, full_name="李思", mobile="139 0000 0000")
    click(at, "Check and save")
    assert texts(at.warning) == ["1 existing customer(s) look like the same person. Nothing was saved."]
    assert customers() == 1
    (table,) = at.dataframe
    assert table.value["Customer id"].tolist() == [1]
    assert table.value["Same"].tolist() == ["mobile"]
    click(at, "Save anyway (a different person)")
    assert texts(at.success) == ["Customer 2 was saved."]
    assert customers() == 2


@pytest.mark.parametrize("username", ["manager", "marketing"])
def test_other_roles_get_no_new_customer_form(wh, username):
    at = open_page(as_user(username), NEW)
    assert not at.exception, at.exception
    assert [w for w in at.text_input if str(w.key).startswith("nc_")] == []
    with pytest.raises(auth.PermissionDenied):
        records.create_customer(auth.User(username, username, frozenset({username})), {"full_name": "某人"})
    assert customers() == 1


# ---------------------------------------------------------------- Customer 360°


def open_360(username: str, cid: int = 1):
    at = as_user(username)
    at.query_params["id"] = str(cid)
    return open_page(at, C360)


def test_a_steward_edits_the_profile_from_the_360_page(wh):
    at = open_360("steward")
    assert [e.label for e in at.expander][:2] == ["Edit profile", "Delete customer"]
    at.text_input(key="rec_1_0_city").input("广州市")
    click(at, "Save changes")
    assert "Customer 1 was updated." in texts(at.success)
    assert warehouse.one("SELECT city, version FROM customers WHERE customer_id = 1") == {
        "city": "广州市",
        "version": 2,
    }
    assert at.text_input(key="rec_1_1_city").value == "广州市"  # the form shows the saved record


def test_an_invalid_edit_names_the_field_and_changes_nothing(wh):
    at = open_360("steward")
    at.text_input(key="rec_1_0_email").input("li.si@")
    click(at, "Save changes")
    assert "Email: Email is not a valid email address." in texts(at.error)
    assert warehouse.one("SELECT email, version FROM customers WHERE customer_id = 1") == {
        "email": "li.si@example.com",
        "version": 1,
    }


def test_a_concurrent_edit_is_refused_with_both_values_shown(wh):
    at = open_360("steward")
    records.update_profile(auth.User("admin", "admin", frozenset({"admin"})), 1, {"city": "珠海市"}, 1)
    at.text_input(key="rec_1_0_city").input("广州市")
    click(at, "Save changes")
    assert (
        "Someone else saved this record while you were editing (it is now version 2). Nothing was saved: "
        "compare the values, reload and apply your change again."
    ) in texts(at.error)
    conflict = [d.value for d in at.dataframe if "Your value" in d.value.columns]
    assert conflict[0].values.tolist() == [["City", "广州市", "珠海市"]]
    assert warehouse.scalar("SELECT city FROM customers WHERE customer_id = 1") == "珠海市"
    click(at, "Reload the current record")
    assert at.text_input(key="rec_1_1_city").value == "珠海市"


def test_an_edit_is_undone_from_the_360_page(wh):
    records.update_profile(auth.User("steward", "steward", frozenset({"steward"})), 1, {"city": "广州市"}, 1)
    at = open_360("steward")
    click(at, "Undo this edit")
    assert "The edit of customer 1 was undone." in texts(at.success)
    assert warehouse.one("SELECT city, version FROM customers WHERE customer_id = 1") == {
        "city": "深圳市",
        "version": 3,
    }


@pytest.mark.parametrize("username", ["manager", "marketing"])
def test_read_only_roles_see_no_edit_or_delete_form_and_the_lib_refuses(wh, username):
    at = open_360(username)
    assert not at.exception, at.exception
    assert [e.label for e in at.expander if e.label in ("Edit profile", "Delete customer")] == []
    assert [w for w in at.text_input if str(w.key).startswith("rec_")] == []
    user = auth.User(username, username, frozenset({username}))
    with pytest.raises(auth.PermissionDenied):
        records.update_profile(user, 1, {"city": "广州市"}, 1)
    with pytest.raises(auth.PermissionDenied):
        records.delete_customer(user, 1, "a good reason", 1)
    assert warehouse.one("SELECT city, version FROM customers WHERE customer_id = 1") == {
        "city": "深圳市",
        "version": 1,
    }


def test_a_steward_deletes_then_restores_a_customer_from_the_360_page(wh):
    at = open_360("steward")
    at.text_input(key="rec_delete_reason_1").input("asked to be removed")
    click(at, "Delete this customer")
    assert warehouse.scalar("SELECT deleted_at IS NOT NULL FROM customers WHERE customer_id = 1")
    (banner,) = [e for e in texts(at.error) if e.startswith("Deleted on")]
    assert "by steward. Reason: asked to be removed." in banner
    assert [e.label for e in at.expander if e.label == "Edit profile"] == []  # no edits while deleted
    click(at, "Restore this customer")
    assert "Customer 1 was restored." in texts(at.success)
    assert warehouse.scalar("SELECT deleted_at FROM customers WHERE customer_id = 1") is None


def test_a_manager_sees_the_deleted_banner_without_a_restore_button(wh):
    records.delete_customer(auth.User("steward", "steward", frozenset({"steward"})), 1, "asked to be removed", 1)
    at = open_360("manager")
    assert [e for e in texts(at.error) if e.startswith("Deleted on")]
    assert [b for b in at.button if b.label == "Restore this customer"] == []


def test_stewards_find_deleted_customers_on_the_360_page_without_an_id(wh):
    records.delete_customer(auth.User("steward", "steward", frozenset({"steward"})), 1, "asked to be removed", 1)
    at = open_page(as_user("steward"), C360)
    assert not at.exception, at.exception
    assert [e.label for e in at.expander] == ["Recently deleted customers (1): open one to restore it"]
    at = open_page(as_user("manager"), C360)
    assert [e.label for e in at.expander] == []
