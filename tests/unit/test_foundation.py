"""Foundation behaviour: migrations, named queries, transactions, permissions, config, i18n."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from lib.security import audit, auth
from lib.core import config, i18n, settings, warehouse
from lib.admin import setting_changes
from tests import factories
from tests.conftest import ROOT


# ---------------------------------------------------------------- migrations


def test_migrations_apply_to_an_empty_file_and_are_idempotent(tmp_path):
    warehouse.use(str(tmp_path / "fresh.duckdb"))
    try:
        first = warehouse.migrate()
        assert first == [f.stem for f in warehouse.migration_files()]
        assert warehouse.migrate() == []
        assert warehouse.schema_versions() == [int(f.name[:4]) for f in warehouse.migration_files()]
        tables = set(warehouse.read("SELECT table_name FROM information_schema.tables")["table_name"])
        assert {
            "customers",
            "consents",
            "events",
            "orders",
            "tags",
            "audit_log",
            "quarantine",
            "imports",
            "app_users",
            "demo_ground_truth",
            "schema_version",
        } <= tables
    finally:
        warehouse.dispose()
        warehouse.use(None)


def test_cli_init_creates_a_migrated_warehouse_at_the_configured_location(tmp_path):
    target = tmp_path / "cli.duckdb"
    # every job checks the keys first (tests/unit/test_keys_and_jobs.py), init included
    keys = {k: os.environ[k] for k in ("C360_FIELD_KEYS", "C360_HASH_KEY", "C360_COOKIE_KEY")}
    env = {"C360_WAREHOUSE": str(target), "PATH": "/usr/bin:/bin", **keys}
    out = subprocess.run([sys.executable, "-m", "lib.cli", "init"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "applied" in out.stdout and target.exists()
    again = subprocess.run([sys.executable, "-m", "lib.cli", "init"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "already up to date" in again.stdout


def test_a_second_process_gets_a_clear_lock_message(warehouse_path):
    warehouse.scalar("SELECT 1")  # this process now holds the file
    out = subprocess.run(
        [sys.executable, "-m", "lib.cli", "--warehouse", str(warehouse_path), "init"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "open in another process" in out.stderr and "Stop the app" in out.stderr


# ---------------------------------------------------------------- queries and transactions


def test_named_queries_bind_parameters_and_never_interpolate(warehouse_path):
    hostile = "x'); DROP TABLE customers; --"
    with warehouse.transaction() as tx:
        factories.customer(tx, 1, family_name=hostile)
    assert warehouse.scalar("SELECT family_name FROM customers WHERE customer_id = 1") == hostile
    assert warehouse.scalar("SELECT count(*) FROM customers") == 1


def test_a_failing_transaction_writes_nothing(warehouse_path):
    with pytest.raises(RuntimeError):
        with warehouse.transaction() as tx:
            factories.customer(tx, 1)
            raise RuntimeError("boom")
    assert warehouse.scalar("SELECT count(*) FROM customers") == 0


def test_unknown_query_name_is_a_clear_error(warehouse_path):
    with pytest.raises(warehouse.WarehouseError, match="No query named"):
        warehouse.read("no_such_query")


def test_concurrent_updates_of_one_row_are_retried_and_lose_nothing(warehouse_path):
    with warehouse.transaction() as tx:
        factories.customer(tx, 1)

    @warehouse.retrying(attempts=50)
    def bump():
        with warehouse.transaction() as tx:
            v = tx.scalar("SELECT version FROM customers WHERE customer_id = 1")
            tx.run("UPDATE customers SET version = :v WHERE customer_id = 1", v=v + 1)

    threads = [threading.Thread(target=lambda: [bump() for _ in range(20)]) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert warehouse.scalar("SELECT version FROM customers WHERE customer_id = 1") == 1 + 80


def test_retrying_gives_up_with_a_people_message_after_repeated_conflicts():
    calls = []

    @warehouse.retrying(attempts=3)
    def always_conflicts():
        calls.append(1)
        raise RuntimeError("TransactionContext Error: Conflict on update!")

    with pytest.raises(warehouse.WriteConflictError, match="try again"):
        always_conflicts()
    assert len(calls) == 3


def test_location_parsing():
    assert warehouse.parse_location("data/x.duckdb").path == ROOT / "data/x.duckdb"
    assert warehouse.parse_location("duckdb:////tmp/y.duckdb").url == "duckdb:////tmp/y.duckdb"
    assert warehouse.parse_location("ducklake:postgres:dbname=c360").kind == "lake"


# ---------------------------------------------------------------- permissions


@pytest.mark.parametrize("action", sorted(auth.PERMISSIONS))
@pytest.mark.parametrize("role", auth.ROLES)
def test_permission_table_matches_the_guide(role, action):
    guide = {
        "manager": {"view_dashboard", "view_customer", "approve_contact_export"},  # issue #18
        "marketing": {
            "view_dashboard",
            "view_customer",
            "manage_tags",
            "manage_segments",
            "export_audience",
            "train_models",
            "export_scores",
            "manage_campaigns",  # issue #18
            "export_contacts",  # issue #18, with a second person's approval
        },
        "steward": {
            "view_dashboard",
            "view_customer",
            "view_contact_pii",
            "edit_customer",
            "delete_customer",  # soft delete and restore (issue #16)
            "resolve_flags",
            "merge_customers",
            "import_data",
            "run_quality",
            "edit_consent",
            "view_alerts",  # data-quality alerts (issue #17)
            "log_interaction",
            "record_feedback",
        },
    }
    user = auth.User("u", roles=frozenset({role}))
    expected = True if role == "admin" else action in guide[role]
    assert auth.can(user, action) is expected


def test_refused_lib_write_raises_writes_nothing_but_the_denial(warehouse_path, users):
    with pytest.raises(auth.PermissionDenied, match="may not change settings"):
        setting_changes.put(users["manager"], "churn_window_days", 30)
    assert settings.get("churn_window_days") == 365
    denied = warehouse.read("SELECT username, action, detail FROM audit_log WHERE action = 'access.denied'")
    assert denied["username"].tolist() == ["manager"]


def test_allowed_write_is_audited_with_before_and_after(warehouse_path, users):
    setting_changes.put(users["admin"], "churn_window_days", 180)
    assert settings.get("churn_window_days") == 180
    row = warehouse.one("SELECT before, after FROM audit_log WHERE action = 'setting.change'")
    assert (row["before"], row["after"]) == (None, 180)


def test_a_user_with_several_roles_has_the_union_of_their_rights(users):
    lead = users["lead"]
    assert lead.can("export_audience") and lead.can("view_dashboard")
    assert not lead.can("edit_customer")


def test_unknown_action_is_a_programming_error(users):
    with pytest.raises(KeyError):
        auth.can(users["admin"], "fly")


def test_passwords_are_stored_hashed(warehouse_path):
    stored = warehouse.scalar("SELECT password_hash FROM app_users WHERE username = 'admin'")
    assert stored.startswith("$2") and "admin-demo" not in stored
    assert auth.check_password("admin-demo", stored) and not auth.check_password("admin", stored)


def test_audit_entries_can_be_written_by_name_for_system_jobs(warehouse_path):
    audit.record(None, "nightly-import", "import.start", detail={"rows": 3})
    assert warehouse.one("SELECT username, roles, detail FROM audit_log WHERE action = 'import.start'") == {
        "username": "nightly-import",
        "roles": "",
        "detail": {"rows": 3},
    }


# ---------------------------------------------------------------- configuration


def test_outside_demo_mode_the_demo_cookie_key_is_refused(monkeypatch, tmp_path):
    keys = tmp_path / "demo-keys.toml"
    keys.write_text('cookie_key = "demo-key-demo-key-demo-key-demo-key-0000"\nfield_keys = "x"\nhash_key = "y"\n')
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "0")
    monkeypatch.setenv("C360_COOKIE_KEY", "demo-key-demo-key-demo-key-demo-key-0000")
    with pytest.raises(config.ConfigError, match="demo cookie key"):
        config.cookie_key()
    monkeypatch.setenv("C360_COOKIE_KEY", "short")
    with pytest.raises(config.ConfigError, match="32 characters"):
        config.cookie_key()
    monkeypatch.delenv("C360_COOKIE_KEY")
    with pytest.raises(config.ConfigError, match="C360_COOKIE_KEY"):
        config.cookie_key()


# ---------------------------------------------------------------- i18n


def test_every_string_has_english_and_chinese():
    for key, texts in i18n.catalog().items():
        assert set(texts) >= {"en", "zh"}, key
        assert texts["en"].strip() and texts["zh"].strip(), key
        assert set(_placeholders(texts["en"])) == set(_placeholders(texts["zh"])), key


def _placeholders(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_translation_follows_the_session_language():
    i18n.set_language("zh")
    try:
        assert i18n.t("nav.overview") == "总览"
        assert i18n.t("app.welcome", name="王芳") == "欢迎，王芳"
    finally:
        i18n.set_language("en")
    assert i18n.t("nav.overview") == "Overview"


def test_display_frame_translates_codes_and_headers_and_leaves_the_rest_alone():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "status": ["paid", "on_hold", None],
            "channel": ["wechat", "web", "tmall"],
            "amount": [10.0, 20.0, None],
            "source": ["sms_reply_td", "shop", None],
        }
    )
    i18n.set_language("zh")
    try:
        shown = i18n.display_frame(
            frame,
            {
                "status": "dash.order.status",
                "channel": "dash.channel",
                "source": ("dash.consent.source", "dash.channel"),
            },
            headers="dash.order.col",
        )
    finally:
        i18n.set_language("en")
    assert list(shown.columns) == ["状态", "渠道", "金额（元）", "来源系统"]
    assert shown["状态"].tolist()[:2] == ["已支付", "on_hold"]  # an unknown code as stored
    assert shown["渠道"].tolist() == ["微信", "网站", "tmall"]
    assert shown["来源系统"].tolist()[:2] == ["短信回复“TD”退订", "shop"]
    # a missing value is shown as "—" (st.dataframe would print it as "None")
    assert shown["状态"].tolist()[2] == "—" and shown["来源系统"].tolist()[2] == "—"
    # a number column with a gap becomes text for that, with separators; complete ones keep their type
    assert shown["金额（元）"].tolist() == ["10", "20", "—"]
    # the frame the caller keeps (for CSV downloads) still holds the stored codes and names
    assert list(frame.columns) == ["status", "channel", "amount", "source"]
    assert frame["status"].tolist()[:2] == ["paid", "on_hold"]


def test_display_frame_header_prefixes_callables_and_clashing_headers(monkeypatch):
    import pandas as pd

    catalog = {
        "t.own.source": {"en": "Captured via"},
        "t.shared.source": {"en": "Found by"},
        "t.shared.id": {"en": "Id"},
        "t.shared.kind": {"en": "Type"},
        "t.shared.event_type": {"en": "Type"},
    }
    monkeypatch.setattr(i18n, "catalog", lambda: catalog)
    frame = pd.DataFrame({"id": [1], "source": ["x"], "kind": ["a"], "event_type": ["b"], "other": [None]})
    shown = i18n.display_frame(frame, {"kind": str.upper}, headers=("t.own", "t.shared"))
    # the table's own prefix wins; a header that would repeat another keeps its column name
    assert list(shown.columns) == ["Id", "Captured via", "Type", "event_type", "other"]
    assert shown["Type"].tolist() == ["A"] and shown["other"].tolist() == ["—"]
    assert list(i18n.display_frame(frame).columns) == list(frame.columns)  # nothing asked, nothing changed


def test_every_i18n_key_used_in_code_exists():
    import re

    used = set()
    for path in list((ROOT / "lib").rglob("*.py")) + list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        used |= set(re.findall(r'\bt\(\s*"([a-z0-9_.]+)"', path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if not i18n.has(k))
    assert not missing, missing


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    "phone, masked",
    [
        ("+8613812345678", "+86 138****5678"),
        ("+14155550123", "+141****0123"),
        ("+8618435", "+86***35"),  # short, invalid values must not be shown whole
        ("123456", "******"),
        (None, None),
    ],
)
def test_phone_masking_never_shows_a_whole_number(phone, masked):
    from lib.security import privacy

    assert privacy.mask_phone(phone) == masked


def test_named_queries_include_shared_fragments_once_written():
    from lib.core import warehouse as wh

    queries = wh._queries()
    assert not [name for name, sql in queries.items() if "{{" in sql]
    kpis = wh.query("overview_kpis")
    assert "list_contains(CAST(:channel AS VARCHAR[]), channel)" in kpis
    assert wh.query("overview_segment_filter").splitlines()[-1].strip() in kpis
