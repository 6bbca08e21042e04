"""Keys are checked at start, strongly, outside demo mode: demo keys, short or predictable
secrets, blank cookie keys and malformed Fernet keys are refused with one line naming the
variable. Every CLI job checks keys and the warehouse location before any work, and
`demo --if-missing` (what `make run` runs) never adds demo data or logins to a warehouse the
demo generator did not build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from lib import cli, demo
from lib.core import config, warehouse

ROOT = Path(__file__).resolve().parents[2]
DEMO_FIELD_KEY = "0lD6Oe5qkX0m3ybZ0XHc0xC6xS5q0kq3QvY8mQd2V2c="
DEMO_HASH_KEY = "demo-hash-K3y_Zq8vW2nR5tY7uI9oP1aS4dF6gH8jL0"
DEMO_COOKIE_KEY = "demo-cookie-Xy7_Lm3nB5vC9xZ2aQ4wE6rT8yU0iO1pA"
GOOD = {
    "C360_FIELD_KEYS": "T8R4XUbzGv3rJ2a0G2f6vWc0m9V0G2wq1pQW0m3X6yI=",
    "C360_HASH_KEY": "Wq3-Zt8_Ly1rKp5vBn7xMc2sDf9gHj4k",
    "C360_COOKIE_KEY": "Jm6-Hs2_Qe8wRt5yUi1oPa3sDf7gHk9lZx",
}
CSV = "source_record_id,full_name,mobile\nA1,张三,13812345678\n"


@pytest.fixture
def production(monkeypatch, tmp_path):
    """Outside demo mode, with good keys, beside a demo keys file holding known demo keys."""
    keys = tmp_path / "demo-keys.toml"
    keys.write_text(
        f'cookie_key = "{DEMO_COOKIE_KEY}"\nfield_keys = "{DEMO_FIELD_KEY}"\nhash_key = "{DEMO_HASH_KEY}"\n'
    )
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "0")
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)


def test_good_keys_are_accepted_outside_demo_mode(production):
    config.check_keys()
    assert config.hash_key() == GOOD["C360_HASH_KEY"].encode()
    assert config.field_keys() == [GOOD["C360_FIELD_KEYS"].encode()]


@pytest.mark.parametrize(
    "variable, value, message",
    [
        (
            "C360_FIELD_KEYS",
            DEMO_FIELD_KEY,
            "Refusing to run outside demo mode with the demo field key (C360_FIELD_KEYS key 1 of 1)",
        ),
        (
            "C360_FIELD_KEYS",
            f"{GOOD['C360_FIELD_KEYS']},{DEMO_FIELD_KEY}",
            "Refusing to run outside demo mode with the demo field key (C360_FIELD_KEYS key 2 of 2)",
        ),
        ("C360_FIELD_KEYS", "not-a-fernet-key", "C360_FIELD_KEYS: key 1 of 1 is not a Fernet key"),
        ("C360_FIELD_KEYS", f"{GOOD['C360_FIELD_KEYS']},abc", "C360_FIELD_KEYS: key 2 of 2 is not a Fernet key"),
        ("C360_FIELD_KEYS", " , ", "C360_FIELD_KEYS holds no key"),
        ("C360_HASH_KEY", DEMO_HASH_KEY, "Refusing to run outside demo mode with the demo hash key (C360_HASH_KEY)"),
        ("C360_HASH_KEY", "x", "C360_HASH_KEY must be at least 32 characters long"),
        ("C360_HASH_KEY", "a" * 64, "C360_HASH_KEY is too predictable"),
        ("C360_HASH_KEY", "password" * 5, "C360_HASH_KEY is too predictable"),
        ("C360_COOKIE_KEY", " " * 40, "C360_COOKIE_KEY is blank"),
        ("C360_COOKIE_KEY", "ab" * 20, "C360_COOKIE_KEY is too predictable"),
        ("C360_COOKIE_KEY", "short-key", "C360_COOKIE_KEY must be at least 32 characters long"),
        ("C360_COOKIE_KEY", DEMO_COOKIE_KEY, "Refusing to start outside demo mode with the demo cookie key"),
    ],
)
def test_a_weak_demo_or_malformed_key_is_refused_with_one_line_naming_it(
    production, monkeypatch, variable, value, message
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(config.ConfigError) as refused:
        config.check_keys()
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
    if len(value.strip()) >= 8:
        assert value not in str(refused.value)  # the secret itself is never echoed


@pytest.mark.parametrize("variable", ["C360_FIELD_KEYS", "C360_HASH_KEY", "C360_COOKIE_KEY"])
def test_a_missing_key_is_refused_outside_demo_mode(production, monkeypatch, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(config.ConfigError, match=f"Set {variable}"):
        config.check_keys()


def test_in_demo_mode_the_generated_keys_are_used(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", tmp_path / "demo-keys.toml")
    monkeypatch.setenv("C360_DEMO", "1")
    for name in GOOD:
        monkeypatch.delenv(name, raising=False)
    config.check_keys()
    Fernet(config.field_keys()[0])
    assert len(config.hash_key()) >= 32


def test_a_random_hex_or_urlsafe_key_passes_the_strength_check(production, monkeypatch):
    import secrets

    for key in (secrets.token_hex(16), secrets.token_urlsafe(32), secrets.token_hex(32)):
        monkeypatch.setenv("C360_HASH_KEY", key)
        config.check_keys()


# ---------------------------------------------------------------- CLI: checks before any work


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("C360_FIELD_KEYS", None, "error: Set C360_FIELD_KEYS"),
        ("C360_HASH_KEY", None, "error: Set C360_HASH_KEY"),
        ("C360_FIELD_KEYS", "not-a-fernet-key", "error: C360_FIELD_KEYS: key 1 of 1 is not a Fernet key"),
        ("C360_HASH_KEY", "x", "error: C360_HASH_KEY must be at least 32 characters long"),
        ("C360_COOKIE_KEY", " " * 40, "error: C360_COOKIE_KEY is blank"),
    ],
)
def test_an_import_with_bad_keys_stops_before_any_work_with_one_line(
    production, warehouse_path, csv_file, monkeypatch, capsys, variable, value, message
):
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    before = warehouse.scalar("SELECT count(*) FROM audit_log")
    warehouse.dispose()
    code = cli.main(["import", "customers", str(csv_file), "--source", "crm"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1
    assert warehouse.scalar("SELECT count(*) FROM imports") == 0
    assert warehouse.scalar("SELECT count(*) FROM audit_log") == before


def test_an_import_without_keys_prints_one_line_and_no_traceback(warehouse_path, csv_file, tmp_path):
    """The case that used to fail half-way with a traceback from privacy.key_fingerprint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env.update(C360_DEMO="0", C360_WAREHOUSE=str(warehouse_path))
    warehouse.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "lib.cli", "import", "customers", str(csv_file), "--source", "crm"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: Set C360_FIELD_KEYS")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stdout == ""


@pytest.mark.parametrize(
    "location, message",
    [
        (
            "postgresql://app:secret@db.example.com/crm",
            "error: --warehouse is a postgresql:// URL, which is not a warehouse location",
        ),
        ("duckdb://data/w.duckdb", "error: --warehouse is a duckdb:// URL, which is not a warehouse location"),
        ("{tmp}/typo.duckdb", "error: There is no warehouse at {tmp}/typo.duckdb (--warehouse)"),
        ("{tmp}", "error: --warehouse names the directory {tmp}, not a warehouse file."),
        ("ducklake:", "error: --warehouse says ducklake: but names no catalog"),
    ],
)
def test_a_wrong_warehouse_location_stops_a_job_before_it_starts(tmp_path, csv_file, capsys, location, message):
    location, message = location.format(tmp=tmp_path), message.format(tmp=tmp_path)
    before = sorted(p.name for p in ROOT.iterdir())
    code = cli.main(["--warehouse", location, "import", "customers", str(csv_file), "--source", "crm"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1
    assert "secret" not in err
    assert not (tmp_path / "typo.duckdb").exists()
    assert sorted(p.name for p in ROOT.iterdir()) == before  # no "postgresql:" folder made


def test_init_may_create_a_warehouse_that_does_not_exist_yet(tmp_path, capsys):
    target = tmp_path / "new.duckdb"
    assert cli.main(["--warehouse", str(target), "init"]) == 0
    assert target.exists()
    warehouse.use(None)


# ---------------------------------------------------------------- demo --if-missing


def _imported_warehouse(tmp_path, csv_file) -> Path:
    """A real deployment's warehouse: `lib.cli init`, then an import."""
    target = tmp_path / "company.duckdb"
    assert cli.main(["--warehouse", str(target), "init"]) == 0
    assert (
        cli.main(["--warehouse", str(target), "import", "customers", str(csv_file), "--source", "crm", "--no-dedup"])
        == 0
    )
    return target


def test_demo_if_missing_refuses_a_warehouse_the_demo_did_not_build(tmp_path, csv_file, capsys):
    target = _imported_warehouse(tmp_path, csv_file)
    capsys.readouterr()
    code = cli.main(["--warehouse", str(target), "demo", "--if-missing", "--customers", "300"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        f"error: {target} exists and was not built by the demo generator; "
        "refusing to add demo data or demo logins to it."
    )
    warehouse.use(str(target))
    try:
        assert warehouse.scalar("SELECT count(*) FROM app_users") == 0
        assert warehouse.read("SELECT full_name FROM customers")["full_name"].tolist() == ["张三"]
        assert warehouse.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.seed_demo'") == 0
    finally:
        warehouse.dispose()
        warehouse.use(None)


def test_demo_if_missing_refuses_an_empty_warehouse_made_by_init(tmp_path, capsys):
    target = tmp_path / "empty.duckdb"
    assert cli.main(["--warehouse", str(target), "init"]) == 0
    assert cli.main(["--warehouse", str(target), "demo", "--if-missing", "--customers", "300"]) == 2
    warehouse.use(str(target))
    try:
        assert warehouse.scalar("SELECT count(*) FROM app_users") == 0
        assert warehouse.scalar("SELECT count(*) FROM customers") == 0
    finally:
        warehouse.dispose()
        warehouse.use(None)


def test_demo_if_missing_on_a_demo_warehouse_keeps_it_and_adds_the_demo_logins(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("C360_DEMO", "1")
    target = tmp_path / "demo.duckdb"
    warehouse.use(str(target))
    try:
        demo.build(300, 5)
        customers = warehouse.scalar("SELECT count(*) FROM customers")
        assert warehouse.scalar("warehouse_origin") == "demo"
    finally:
        warehouse.dispose()
        warehouse.use(None)
    assert cli.main(["--warehouse", str(target), "demo", "--if-missing"]) == 0
    assert "already built" in capsys.readouterr().out
    warehouse.use(str(target))
    try:
        assert warehouse.scalar("SELECT count(*) FROM customers") == customers
        assert warehouse.scalar("SELECT count(*) FROM app_users") == 5
    finally:
        warehouse.dispose()
        warehouse.use(None)


def test_a_demo_warehouse_built_before_the_marker_is_recognised_by_its_ground_truth(tmp_path, monkeypatch):
    target = tmp_path / "old-demo.duckdb"
    warehouse.use(str(target))
    try:
        every = warehouse.migration_files()
        monkeypatch.setattr(warehouse, "migration_files", lambda: [p for p in every if int(p.name[:4]) < 13])
        warehouse.migrate()
        with warehouse.transaction() as tx:
            tx.run("INSERT INTO demo_ground_truth (customer_id, defect) VALUES (1, 'stale')")
        monkeypatch.undo()
        assert "0013_warehouse_meta" in warehouse.migrate()
        assert warehouse.scalar("warehouse_origin") == "demo"
    finally:
        warehouse.dispose()
        warehouse.use(None)
