"""AppTest of the admin pages: users, audit log, privacy requests, backups; start-up refusal."""

from __future__ import annotations

import json
from datetime import datetime

import bcrypt
import pytest

from lib.security import auth, privacy
from lib.admin import backup
from lib.core import config, warehouse
from tests import factories as f
from tests.app.helpers import as_user, login, new_app, open_page

ID_NUMBER = "11010519491231002X"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


@pytest.fixture
def customers(warehouse_path, tmp_path, monkeypatch):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(
            tx,
            1,
            mobile="+8613812345678",
            email="zhang.san@example.com",
            id_number_enc=privacy.encrypt(ID_NUMBER),
            id_number_last4="002X",
        )
        f.order(tx, 1, datetime(2024, 2, 1), 100.0)
        f.consent(tx, 1, "sms")
    return warehouse_path


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def text_input(at, label: str):
    return next(w for w in at.text_input if w.label == label)


def successes(at) -> list[str]:
    return [s.value for s in at.success]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def admin_on(path: str):
    at = as_user("admin")
    open_page(at, path)
    assert not at.exception, at.exception
    return at


# ---------------------------------------------------------------- users


def test_users_page_shows_the_access_review(customers):
    at = admin_on("pages/30_users.py")
    review = at.dataframe[0].value
    assert review["User"].tolist() == ["admin", "lead", "manager", "marketing", "steward"]
    assert {m.label: m.value for m in at.metric}["Accounts"] == "5"


def test_users_who_never_logged_in_show_never_not_none(customers):
    # nobody has logged in through the form in this warehouse (the test seeds the session);
    # only the admin opening the page has an activity time
    at = admin_on("pages/30_users.py")
    review = at.dataframe[0].value
    assert review["Last login"].tolist() == ["never"] * 5
    assert review["Last activity"].tolist()[1:] == ["never"] * 4
    assert review["Last activity"].tolist()[0][:2] == "20"
    assert [m.placeholder for m in at.multiselect] == ["Choose options", "Choose options"]


def test_admin_adds_a_user_who_can_then_log_in(customers):
    at = admin_on("pages/30_users.py")
    text_input(at, "Username").input("li.lei")
    text_input(at, "Display name").input("Li Lei")
    at.multiselect[0].select("steward")
    text_input(at, "Initial password").input("long-enough-1")
    button(at, "Create user").click()
    at.run()
    assert not at.exception
    assert successes(at) == ["User li.lei created."]
    assert auth.load_user("li.lei").roles == frozenset({"steward"})


def test_a_refused_new_user_shows_the_reason(customers):
    at = admin_on("pages/30_users.py")
    text_input(at, "Username").input("li.lei")
    text_input(at, "Display name").input("Li Lei")
    at.multiselect[0].select("steward")
    text_input(at, "Initial password").input("short")
    button(at, "Create user").click()
    at.run()
    assert any("at least 10 characters" in e for e in errors(at))
    assert auth.load_user("li.lei") is None


def test_admin_disables_a_user_and_that_users_session_ends_on_its_next_action(customers):
    victim = as_user("marketing")
    at = admin_on("pages/30_users.py")
    at.selectbox(key="access_user").select("marketing")
    at.run()
    button(at, "Disable account").click()
    at.run()
    assert successes(at) == ["marketing is disabled."]
    victim.run()
    assert any("disabled" in e for e in errors(victim))
    assert len(victim.metric) == 0


def test_admin_changes_roles(customers):
    at = admin_on("pages/30_users.py")
    at.selectbox(key="roles_user").select("manager")
    at.run()
    roles = next(m for m in at.multiselect if m.value == ["manager"])
    roles.select("steward")
    button(at, "Save roles").click()
    at.run()
    assert auth.load_user("manager").roles == frozenset({"manager", "steward"})


# ---------------------------------------------------------------- audit


def test_audit_page_shows_the_login_and_filters_by_action(customers):
    at = login("admin", "admin-demo")  # through the form, so the login itself is audited
    open_page(at, "pages/31_audit.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    # actions and record types by name, roles by name, details as readable text (no codes, no JSON)
    assert "Logged in" in table["Action"].tolist() and "login" not in table["Action"].tolist()
    login_row = table[table["Action"] == "Logged in"].iloc[0]
    assert (login_row["Roles"], login_row["Detail"]) == ("admin", "Client: local")
    assert "—" in table["Record"].tolist() and "None" not in table.astype(str).values
    at.selectbox[1].select("login")
    at.run()
    assert set(at.dataframe[0].value["Action"]) == {"Logged in"}
    assert at.markdown[-1].value.startswith("1 entry matches") or any(
        m.value.startswith("1 entry matches") for m in at.markdown
    )
    button(at, "Prepare CSV export").click()
    at.run()
    assert not at.exception
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'audit.export'") == 1


# ---------------------------------------------------------------- privacy


def privacy_page():
    at = admin_on("pages/32_privacy.py")
    text_input(at, "Customer id").input("1")
    at.run()
    assert not at.exception, at.exception
    return at


def test_privacy_page_reveals_an_id_with_a_reason_and_audits_it(customers):
    at = privacy_page()
    assert at.dataframe[0].value["Resident ID"].tolist() == ["**************002X"]
    next(w for w in at.text_input if w.label.startswith("Reason")).input("customer verified by phone")
    button(at, "Reveal").click()
    at.run()
    assert [c.value for c in at.code] == [ID_NUMBER]
    detail = warehouse.scalar("SELECT CAST(detail AS VARCHAR) FROM audit_log WHERE action = 'pii.reveal'")
    assert json.loads(detail)["reason"] == "customer verified by phone"


def test_a_reveal_without_a_reason_shows_an_error_and_reveals_nothing(customers):
    at = privacy_page()
    button(at, "Reveal").click()
    at.run()
    assert any("Give a reason" in e for e in errors(at))
    assert len(at.code) == 0


def test_privacy_page_records_a_withdrawal(customers):
    at = privacy_page()
    at.session_state["privacy_tab"] = "Consent"  # the user opens the Consent tab
    at.run()
    consent_status = next(s for s in at.selectbox if s.label == "Status")
    consent_status.select("withdrawn")
    text_input(at, "Source (where it was captured)").input("call centre")
    button(at, "Record consent change").click()
    at.run()
    assert not at.exception
    assert privacy.contactable([1], "sms") == set()
    assert at.session_state["privacy_tab__open"] == "consent"  # still open after the change, its result in view


def test_erasure_needs_the_id_typed_again(customers):
    at = privacy_page()
    reasons = [w for w in at.text_input if w.label.startswith("Reason")]
    reasons[1].input("request #2026-117 by e-mail")
    text_input(at, "Type the customer id again to confirm").input("2")
    button(at, "Erase personal data").click()
    at.run()
    assert errors(at) == ["The ids differ: nothing was erased."]
    assert warehouse.scalar("SELECT erased_at FROM customers WHERE customer_id = 1") is None
    reasons = [w for w in at.text_input if w.label.startswith("Reason")]
    reasons[1].input("request #2026-117 by e-mail")
    text_input(at, "Type the customer id again to confirm").input("1")
    button(at, "Erase personal data").click()
    at.run()
    assert not at.exception
    assert successes(at) == ["Customer 1 erased (1 record(s))."]
    assert warehouse.scalar("SELECT mobile FROM customers WHERE customer_id = 1") is None


# ---------------------------------------------------------------- backups


def test_backups_page_creates_a_snapshot_and_the_drill_passes(customers):
    at = admin_on("pages/33_backups.py")
    assert any("No snapshot yet" in i.value for i in at.info)
    button(at, "Create snapshot").click()
    at.run()
    assert not at.exception
    [snap] = backup.snapshots()
    assert successes(at)[0].startswith(f"Snapshot {snap['id']} created")
    button(at, "Run restore drill").click()
    at.run()
    assert not at.exception
    assert successes(at) == [
        f"Drill passed: snapshot {snap['id']} restores to an identical warehouse ({len(snap['tables'])} tables)."
    ]
    per_table = at.dataframe[1].value
    assert per_table["Pass"].all() and len(per_table) == len(snap["tables"])


def test_backups_page_verifies_a_snapshot_in_place(customers):
    at = admin_on("pages/33_backups.py")
    button(at, "Create snapshot").click()
    at.run()
    button(at, "Create snapshot").click()  # a second one: the choice moves to the newest
    at.run()
    snap = backup.snapshots()[0]
    assert len(backup.snapshots()) == 2 and snap["created_at"] > backup.snapshots()[1]["created_at"]
    button(at, "Verify in place").click()
    at.run()
    assert not at.exception
    assert successes(at) == [
        f"Drill passed: snapshot {snap['id']} restores to an identical warehouse ({len(snap['tables'])} tables)."
    ]


def test_restore_needs_the_snapshot_id_typed(customers):
    at = admin_on("pages/33_backups.py")
    button(at, "Create snapshot").click()
    at.run()
    [snap] = backup.snapshots()
    with warehouse.transaction() as tx:
        f.customer(tx, 2, full_name="李四")
    at.run()
    text_input(at, "Type the snapshot id to confirm").input("wrong")
    button(at, "Restore this snapshot").click()
    at.run()
    assert any("nothing was restored" in e for e in errors(at))
    assert warehouse.scalar("SELECT count(*) FROM customers") == 2
    text_input(at, "Type the snapshot id to confirm").input(snap["id"])
    button(at, "Restore this snapshot").click()
    at.run()
    assert not at.exception
    assert successes(at)[0].startswith(f"Restored {snap['id']}.")
    assert warehouse.scalar("SELECT count(*) FROM customers") == 1


# ---------------------------------------------------------------- start-up refusal


def test_outside_demo_mode_the_app_refuses_to_start_with_the_demo_cookie_key(warehouse_path, monkeypatch, tmp_path):
    keys = tmp_path / "demo-keys.toml"
    keys.write_text('cookie_key = "demo-cookie-key-0123456789-abcdefghijkl"\n')
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "0")
    monkeypatch.setenv("C360_COOKIE_KEY", "demo-cookie-key-0123456789-abcdefghijkl")
    for path in ("app.py", "pages/30_users.py"):
        at = new_app()
        at.run()
        if path != "app.py":
            open_page(at, path)
        assert not at.exception
        assert any(e.startswith("The app refuses to start:") and "demo cookie key" in e for e in errors(at))
        assert len(at.text_input) == 0 and len(at.dataframe) == 0
