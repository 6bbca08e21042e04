"""tools/restructure_map.py rewrites code written against the flat lib/ (other branches, old
notes) to the area packages, and a second run changes nothing."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("restructure_map", ROOT / "tools" / "restructure_map.py")
rm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rm)

OLD = """from lib import auth, customer_edits, ui, warehouse
from lib.marketing import compose
from lib.i18n import t


def fix(user, cid, monkeypatch):
    from lib import settings
    monkeypatch.setattr("lib.warehouse.engine", None)
    record = customer_edits.get(cid)
    try:
        customer_edits.update_customer(user, cid, {}, 1)
    except customer_edits.ConflictError:
        settings.put(user, "backup_retention", 3)
    return "python -m lib.demo", "see lib/lake.py and lib/sql/core.sql"
"""

NEW = """from lib.security import auth
from lib.stewardship import edits
from lib import ui
from lib.core import warehouse
from lib.marketing.queries import compose
from lib.core.i18n import t
from lib.admin import setting_changes


def fix(user, cid, monkeypatch):
    from lib.core import settings
    monkeypatch.setattr("lib.core.warehouse.engine", None)
    record = edits.get(cid)
    try:
        edits.update_customer(user, cid, {}, 1)
    except edits.StaleRecordError:
        setting_changes.put(user, "backup_retention", 3)
    return "python -m lib.demo", "see lib/core/lake/ and lib/core/sql/core.sql"
"""


def rewrite(text: str) -> str:
    path = ROOT / "pages" / "99_example.py"
    return rm.move_calls(rm.rename_symbols(path, rm.rewrite_python(text)))


def test_old_imports_strings_and_renamed_modules_are_rewritten():
    assert rewrite(OLD) == NEW


def test_a_second_run_changes_nothing():
    assert rewrite(NEW) == NEW


def test_a_taken_name_keeps_the_old_one_with_as():
    old = "from lib import customer_edits\nedits = []\ncustomer_edits.get(1)\n"
    assert rewrite(old) == "from lib.stewardship import edits as customer_edits\nedits = []\ncustomer_edits.get(1)\n"


def test_the_tree_has_no_references_left():
    assert rm.check() == []
