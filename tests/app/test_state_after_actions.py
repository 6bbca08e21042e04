"""Actions keep the user where they were: the open tab, the picked row, the typed fields."""

from __future__ import annotations

from lib.security import auth
from lib.stewardship import importer
from lib.core import warehouse
from tests.app.helpers import as_user, open_page
from tests.app.test_admin_pages import (  # noqa: F401 - fixtures
    button,
    customers,
    errors,
    fast_bcrypt,
    successes,
    text_input,
)
from tests.stewards_fixtures import _stw_root, stw_wh  # noqa: F401 - fixtures


def open_tab(at, key: str) -> str:
    """The label of the tab the page draws open for `ui.tabs(..., key=key)`."""

    def blocks(node):
        for child in getattr(node, "children", {}).values():
            yield child
            yield from blocks(child)

    for block in blocks(at.main):
        proto = getattr(block, "proto", None)
        if proto is not None and hasattr(proto, "tab_container") and proto.HasField("tab_container"):
            if proto.tab_container.id.endswith(f"-{key}"):
                tabs = [c for c in block.children.values()]
                return tabs[proto.tab_container.default_tab_index].label
    raise AssertionError(f"no tabs with key {key!r}")


def test_quarantine_stays_open_after_release_and_shows_the_result(stw_wh, tmp_path, users):
    csv = tmp_path / "q.csv"
    csv.write_text("id,name,mobile\nQ1,,13812345600\nQ2,,13812345601\n", encoding="utf-8")
    importer.import_file(users["steward"], "customers", csv, "walkin", match_duplicates=False)
    qid = int(importer.quarantine(auth.SYSTEM).iloc[0]["quarantine_id"])
    at = open_page(as_user("steward"), "pages/10_import.py")
    assert open_tab(at, "imp_tab") == "Import a file"
    at.session_state["imp_tab"] = "Quarantine"  # the steward clicks the tab
    at.run()
    assert open_tab(at, "imp_tab") == "Quarantine"
    # the fix fields follow the import's field order, not the alphabet
    labels = [w.label for w in at.text_input if w.key.startswith(f"q_{qid}_")]
    assert labels[:3] == ["Source record ID", "Name", "Mobile"]
    at.text_input(key=f"q_{qid}_full_name").input("孙悟空")
    button(at, "Validate and release").click().run()
    assert not at.exception and not at.error
    assert open_tab(at, "imp_tab") == "Quarantine"
    assert [s.value for s in at.success][0].startswith("Released: customer #")
    assert warehouse.scalar("SELECT full_name FROM customers WHERE source = 'walkin'") == "孙悟空"
    # the one row left is open now; discarding it also stays here and says so
    at.text_input(key=f"q_reason_{qid + 1}").input("test row")
    button(at, "Discard").click().run()
    assert open_tab(at, "imp_tab") == "Quarantine"
    assert [s.value for s in at.success][:2] == ["Row discarded.", "The quarantine is empty."]


def test_picking_a_user_keeps_the_roles_tab_open(customers):
    at = open_page(as_user("admin"), "pages/30_users.py")
    at.session_state["users_tab"] = "Change roles"
    at.run()
    at.selectbox(key="roles_user").select("manager").run()
    assert not at.exception
    assert open_tab(at, "users_tab") == "Change roles"
    assert next(m for m in at.multiselect if m.value == ["manager"])


def test_a_refused_new_user_keeps_what_was_typed(customers):
    at = open_page(as_user("admin"), "pages/30_users.py")
    text_input(at, "Username").input("li.lei")
    text_input(at, "Display name").input("Li Lei")
    at.multiselect[0].select("steward")
    text_input(at, "Initial password").input("short")
    button(at, "Create user").click().run()
    assert any("at least 10 characters" in e for e in errors(at))
    assert not any(e.startswith("Something went wrong") for e in errors(at))
    assert (text_input(at, "Username").value, text_input(at, "Display name").value) == ("li.lei", "Li Lei")
    assert at.multiselect[0].value == ["steward"]
    # corrected and sent again: created, and the form is empty for the next person
    text_input(at, "Initial password").input("long-enough-1")
    button(at, "Create user").click().run()
    assert successes(at) == ["User li.lei created."]
    assert (text_input(at, "Username").value, at.multiselect[0].value) == ("", [])
