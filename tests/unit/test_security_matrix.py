"""Role × action matrix over every guarded function in lib/ (writes and PII reads).

The functions are found, not listed: every top-level function in lib/**/*.py that calls
`auth.require(user, "<action>")` is a cell row, so a function added later is covered the day it
appears. For each function and each role:

* refused roles get PermissionDenied, the refusal is audited (`access.denied`), and nothing
  else in the warehouse changes (every table's row count and checksum, audit_log aside);
* allowed roles pass the permission check (whatever the function then does with the
  placeholder arguments, it is not a PermissionDenied).

A second part runs real, successful calls of representative writes from each area for every
allowed role, and checks the matrix in docs agrees with lib.security.auth.PERMISSIONS.

A third part enumerates the PII readers and writers: every function declared with
`@auth.pii_reader(action)` / `@auth.pii_writer(action)` must check that action first (and so is
a row of the matrix), and every public function in lib/ whose queries touch a column listed in
lib.security.privacy.ERASURE_REGISTRY must be declared (or listed in auth.PII_INTERNAL with the reason
it returns no personal data). A new function that reads personal data without a role check
fails here the day it appears.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
from datetime import date, datetime
from pathlib import Path

import bcrypt
import pytest

from lib.security import auth, privacy
from lib.admin import backup
from lib.core import warehouse
from lib.admin import users as accounts
from lib.marketing import campaigns, tags
from lib.stewardship import edits, feedback, importer, interactions, records, review
from lib.admin import alerts, jobs, setting_changes
from tests import factories as f
from tests.conftest import ROOT

ROLES = {
    "manager": {"manager"},
    "marketing": {"marketing"},
    "steward": {"steward"},
    "admin": {"admin"},
    "lead": {"manager", "marketing"},
}


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))


def role_user(name: str) -> auth.User:
    return auth.User(name, name, frozenset(ROLES[name]))


def _required_action(func: ast.FunctionDef) -> str | None:
    """The literal action of the first auth.require(user, "...") call in a function body."""
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "require"
            and ast.unparse(node.func.value) == "auth"
        ):
            arg = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise AssertionError(
                    f"{func.name}: auth.require needs a literal action so the security matrix can see it"
                )
            return arg.value
    return None


def guarded_functions() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "lib").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(p for p in path.relative_to(ROOT / "lib").with_suffix("").parts if p != "__init__")
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                action = _required_action(node)
                if action is not None:
                    found.append((module, node.name, action))
    return found


GUARDED = guarded_functions()
CELLS = [(module, name, action, role) for module, name, action in GUARDED for role in ROLES]


def placeholder_call(module: str, name: str, user: auth.User):
    """Call with the user and None for every other argument without a default: the permission
    check comes first, so refused users never reach the placeholders."""
    func = getattr(importlib.import_module(f"lib.{module}"), name)
    params = list(inspect.signature(inspect.unwrap(func)).parameters.values())
    assert params and params[0].name == "user", f"lib.{module}.{name}: the user comes first"
    args, kwargs = [user], {}
    for p in params[1:]:
        if p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = None
        else:
            args.append(None)
    return func(*args, **kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One small warehouse for the whole matrix: refusals must leave it unchanged anyway."""
    real = bcrypt.gensalt
    bcrypt.gensalt = lambda rounds=4, prefix=b"2b": real(4, prefix)
    tmp = tmp_path_factory.mktemp("matrix")
    path = tmp / "warehouse.duckdb"
    saved = {k: os.environ.get(k) for k in ("C360_WAREHOUSE", "C360_BACKUP_DIR")}
    os.environ["C360_WAREHOUSE"] = str(path)
    os.environ["C360_BACKUP_DIR"] = str(tmp / "backups")
    warehouse.use(str(path))
    try:
        warehouse.migrate()
        auth.seed_demo_users()
        with warehouse.transaction() as tx:
            f.customer(
                tx,
                1,
                mobile="+8613812345678",
                email="a@example.com",
                id_number_enc=privacy.encrypt("11010519491231002X"),
                id_number_last4="002X",
            )
            f.customer(tx, 2, full_name="李四", mobile="+8613900000000")
            f.order(tx, 1, datetime(2024, 2, 1), 100.0)
            f.order(tx, 2, datetime(2024, 3, 1), 60.0)
            f.consent(tx, 1, "sms")
            f.tag(tx, 1, "vip")
        yield path
    finally:
        bcrypt.gensalt = real
        warehouse.dispose()
        warehouse.use(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def state() -> dict:
    return {k: v for k, v in backup.live_checksums().items() if k != "audit_log"}


def test_the_matrix_found_every_area():
    modules = {m for m, _, _ in GUARDED}
    assert {"admin.users", "security.privacy", "admin.backup", "admin.audit_log", "admin.setting_changes"} <= modules
    assert len(GUARDED) >= 30
    used = {a for _, _, a in GUARDED}
    assert used <= set(auth.PERMISSIONS), used - set(auth.PERMISSIONS)


@pytest.mark.parametrize("module, name, action, role", CELLS, ids=[f"{m}.{n}-{r}" for m, n, _, r in CELLS])
def test_role_action_cell(world, module, name, action, role):
    user = role_user(role)
    allowed = auth.can(user, action)
    if allowed:
        try:
            placeholder_call(module, name, user)
        except auth.PermissionDenied as exc:  # pragma: no cover - this is the failure
            pytest.fail(f"lib.{module}.{name} refused {role}, whom {action!r} allows: {exc}")
        except Exception:  # noqa: BLE001 - placeholders may be rejected after the check
            pass
        return
    before = state()
    denied_before = warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'access.denied'")
    with pytest.raises(auth.PermissionDenied):
        placeholder_call(module, name, user)
    assert state() == before, f"a refused call of lib.{module}.{name} changed the warehouse"
    assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'access.denied'") == denied_before + 1


# ---------------------------------------------------------------- real allowed calls


def _writes():
    """Representative writes from each area with valid arguments: (name, action, call)."""
    cases = [
        ("privacy.record_consent", "edit_consent", lambda u: privacy.record_consent(u, 1, "email", "granted", "store")),
        ("privacy.reveal_id_number", "reveal_id_number", lambda u: privacy.reveal_id_number(u, 1, "identity check")),
        ("privacy.export_subject", "export_subject_data", lambda u: privacy.export_subject(u, 1)),
        ("privacy.erase_customer", "erase_customer", lambda u: privacy.erase_customer(u, 2, "request #1 by e-mail")),
        (
            "users.add_user",
            "manage_users",
            lambda u: accounts.add_user(u, "newbie", "New", ["manager"], "long-enough-1"),
        ),
        ("backup.create", "manage_backups", lambda u: backup.create(u)),
        ("settings.put", "change_settings", lambda u: setting_changes.put(u, "backup_retention", 3)),
        (
            "settings.put (a validated string)",
            "change_settings",
            lambda u: setting_changes.put(u, "stale_after_months", "18"),
        ),
        (
            "alerts.acknowledge (a quality alert)",
            "view_alerts",
            lambda u: alerts.acknowledge(
                u, alerts.raise_alert("quality_drop", "overall", "medium", {}).alert_id, "checked the last run"
            ),
        ),
        (
            "alerts.acknowledge (a security alert)",
            "manage_alerts",
            lambda u: alerts.acknowledge(
                u, alerts.raise_alert("mass_export", "marketing", "high", {}).alert_id, "approved list"
            ),
        ),
        ("jobs.run_now", "manage_jobs", lambda u: jobs.run_now(u, "aggregates_refresh")),
        ("jobs.set_schedule", "manage_jobs", lambda u: jobs.set_schedule(u, "snapshot", "0 3 * * *")),
        ("tags.add", "manage_tags", lambda u: tags.add(u, 2, "newsletter")),
        (
            "campaigns.create",
            "manage_campaigns",
            lambda u: campaigns.create(
                u,
                "Spring",
                "sms",
                date(2026, 3, 1),
                date(2026, 3, 7),
                date(2026, 3, 31),
                {"op": "and", "conditions": []},
            ),
        ),
        (
            "customer_edits.update_customer",
            "edit_customer",
            lambda u: edits.update_customer(u, 1, {"city": "广州市"}, 1),
        ),
        # issue #16: interactions, follow-ups, consent import, bulk review
        ("interactions.add", "log_interaction", lambda u: interactions.add(u, 1, "call", note="asked about delivery")),
        (
            "interactions.mark_done",
            "log_interaction",
            lambda u: interactions.mark_done(u, interactions.add(u, 1, "call", follow_up_on=date.today())),
        ),
        (
            "review.bulk_resolve",
            "resolve_flags",
            lambda u: review.bulk_resolve(u, [_open_flag(1)], "ignore", "known data"),
        ),
        (
            "importer.run_import(consents)",
            "import_data",
            lambda u: importer.run_import(
                u,
                importer.prepare(
                    "consents",
                    importer.read_table(b"customer_key,channel,status,time\nT1,sms,granted,2026-01-01\n", "c.csv"),
                    None,
                    "test",
                ),
            ),
        ),
        (
            "records.create_customer",
            "edit_customer",
            lambda u: records.create_customer(u, {"full_name": "新客户", "mobile": "13700000001"}),
        ),
        (
            "records.update_profile",
            "edit_customer",
            lambda u: records.update_profile(u, 2, {"address": "新港路1号"}, 1),
        ),
        (
            "records.delete_customer",
            "delete_customer",
            lambda u: records.delete_customer(u, 2, "asked to be removed", 1),
        ),
        (
            "records.restore_customer",
            "delete_customer",
            lambda u: (
                records.delete_customer(u, 2, "asked to be removed", 1),
                records.restore_customer(u, 2, "deleted by mistake", 2),
            ),
        ),
        (
            "feedback.add_feedback",
            "record_feedback",
            lambda u: feedback.add_feedback(u, 1, {"scale": "nps", "score": "9", "comment": "ok"}),
        ),
    ]
    return cases


def _open_flag(customer_id: int) -> int:
    with warehouse.transaction() as tx:
        return int(
            tx.scalar(
                "INSERT INTO quality_flags (customer_id, kind, rule_id, field, severity)"
                " VALUES (:c, 'rule', 'mobile_valid', 'mobile', 'high') RETURNING flag_id",
                c=customer_id,
            )
        )


WRITES = _writes()
REAL_CELLS = [
    (name, action, call, role) for name, action, call in WRITES for role in ROLES if auth.can(role_user(role), action)
]


@pytest.mark.parametrize("name, action, call, role", REAL_CELLS, ids=[f"{n}-{r}" for n, _, _, r in REAL_CELLS])
def test_allowed_roles_really_can(warehouse_path, tmp_path, monkeypatch, name, action, call, role):
    monkeypatch.setenv("C360_BACKUP_DIR", str(tmp_path / "backups"))
    with warehouse.transaction() as tx:
        f.customer(
            tx, 1, mobile="+8613812345678", id_number_enc=privacy.encrypt("11010519491231002X"), id_number_last4="002X"
        )
        f.customer(tx, 2, full_name="李四")
    before = warehouse.scalar("SELECT count(*) FROM audit_log")
    call(role_user(role))
    assert warehouse.scalar("SELECT count(*) FROM audit_log") > before, f"{name} left no audit entry"


# ---------------------------------------------------------------- PII readers and writers


def _import_every_lib_module() -> None:
    """Declarations register at import time: import every module under lib/."""
    for path in sorted((ROOT / "lib").rglob("*.py")):
        if path.name == "__main__.py":  # an entry point: importing it runs the command
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


_import_every_lib_module()
PII = dict(auth.PII_FUNCTIONS)
GUARDED_ACTIONS = {f"{m}.{n}": a for m, n, a in GUARDED}
_QUERY_METHODS = {"read", "one", "records", "scalar", "df", "run", "query", "many"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT / "lib").with_suffix("").parts)


def _personal_sql(sql: str) -> str | None:
    """The personal table/column a query touches (per lib.security.privacy.ERASURE_REGISTRY), if any."""
    low = sql.lower()
    for table, columns in privacy.personal_columns().items():
        if re.search(rf"\b{table}\b", low):
            hit = next((c for c in sorted(columns) if re.search(rf"\b{c}\b", low)), None)
            if hit:
                return f"{table}.{hit}"
    return None


def _queries_used(node: ast.AST) -> set[str]:
    """Query names or SQL texts passed as the first argument of warehouse/tx calls."""
    found = set()
    for n in ast.walk(node):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in _QUERY_METHODS
            and n.args
            and isinstance(n.args[0], ast.Constant)
            and isinstance(n.args[0].value, str)
        ):
            found.add(n.args[0].value)
    return found


def personal_data_functions(source: str, module: str) -> dict[str, str]:
    """Public top-level functions of a module whose queries (their own, or those of the
    module's private helpers they call) touch personal data: name -> table.column."""
    from lib.core import warehouse as wh

    tree = ast.parse(source)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    out = {}
    for name in funcs:
        if name.startswith("_"):
            continue
        seen, todo, used = set(), [name], set()
        while todo:
            current = todo.pop()
            if current in seen or current not in funcs:
                continue
            seen.add(current)
            used |= _queries_used(funcs[current])
            todo += [
                n.func.id
                for n in ast.walk(funcs[current])
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.startswith("_")
            ]
        for q in sorted(used):
            try:
                sql = q if " " in q.strip() else wh.query(q)
            except wh.WarehouseError:
                continue
            hit = _personal_sql(sql)
            if hit:
                out[f"{module}.{name}"] = hit
                break
    return out


def undeclared(found: dict[str, str]) -> list[str]:
    return sorted(
        f"{name} ({hit})"
        for name, hit in found.items()
        if name not in auth.PII_FUNCTIONS and name not in auth.PII_INTERNAL
    )


def every_personal_data_function() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "lib").rglob("*.py")):
        found |= personal_data_functions(path.read_text(encoding="utf-8"), _module_name(path))
    return found


def test_every_declared_pii_function_checks_its_action_and_is_in_the_matrix():
    assert len(PII) >= 30
    for name, (kind, action) in PII.items():
        assert kind in ("read", "write")
        assert GUARDED_ACTIONS.get(name) == action, (
            f"lib.{name} is declared {kind} of {action!r} but its first auth.require checks "
            f"{GUARDED_ACTIONS.get(name)!r}"
        )


def test_every_public_function_touching_personal_data_is_declared():
    found = every_personal_data_function()
    # the scan sees the known readers (so it is looking at the right things) ...
    for known in (
        "dashboards.customers.customer_360",
        "stewardship.edits.get",
        "stewardship.importer.quarantine",
        "stewardship.review.flag",
        "stewardship.quality.open_flags",
        "stewardship.dedup.pair",
        "admin.audit_log.search",
    ):
        assert known in found or known in PII, known
    # ... and nothing undeclared
    assert undeclared(found) == []


def test_pii_internal_functions_say_why_they_return_no_personal_data():
    for name, reason in auth.PII_INTERNAL.items():
        assert len(reason) >= 20, name
        assert name not in PII, f"{name} is declared both internal and reader/writer"


def test_the_scan_catches_a_new_unchecked_reader():
    """The check above can fail: a function returning a record or a quarantined row without
    a declaration (or without the check its declaration promises) is caught."""
    source = (
        "from lib import auth, warehouse\n"
        "def leak(customer_id):\n"
        "    return warehouse.one('stw_customer_by_id', customer_id=customer_id)\n"
        "def leak_raw(limit=10):\n"
        "    return warehouse.read('SELECT raw FROM quarantine LIMIT :n', n=limit)\n"
        "def _helper(cid):\n"
        "    return warehouse.one('c360_profile', id=cid)\n"
        "def indirect(cid):\n"
        "    return _helper(cid)\n"
        "def harmless():\n"
        "    return warehouse.read('stw_q_runs', limit=1)\n"
    )
    found = personal_data_functions(source, "canary")
    assert sorted(found) == ["canary.indirect", "canary.leak", "canary.leak_raw"]
    assert undeclared(found) == sorted(f"{n} ({h})" for n, h in found.items())
    tree = ast.parse("def get(user, cid):\n    return warehouse.one('stw_customer_by_id', customer_id=cid)\n")
    assert _required_action(tree.body[0]) is None  # declared but unchecked -> not in GUARDED


PII_CELLS = [(name, action, role) for name, (_, action) in sorted(PII.items()) for role in ROLES]


@pytest.mark.parametrize("name, action, role", PII_CELLS, ids=[f"{n}-{r}" for n, _, r in PII_CELLS])
def test_pii_function_cell(world, name, action, role):
    """Each declared PII reader/writer as each role: refused (audited, nothing changed) or
    let through the check."""
    warehouse.use(str(world))  # tests above may have pointed the process elsewhere
    module, func = name.rsplit(".", 1)
    test_role_action_cell(world, module, func, action, role)
