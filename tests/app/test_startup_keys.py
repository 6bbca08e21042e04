"""AppTest: outside demo mode a weak, demo or malformed key stops every page before the login
form, with one line naming the variable (lib/config.check_keys, called by the page guard)."""

from __future__ import annotations

import pytest

from lib.core import config
from tests.app.helpers import new_app, open_page

DEMO_HASH_KEY = "demo-hash-K3y_Zq8vW2nR5tY7uI9oP1aS4dF6gH8jL0"


@pytest.fixture
def production(warehouse_path, monkeypatch, tmp_path):
    keys = tmp_path / "demo-keys.toml"
    keys.write_text(f'hash_key = "{DEMO_HASH_KEY}"\n')
    monkeypatch.setattr(config, "DEMO_KEYS_FILE", keys)
    monkeypatch.setenv("C360_DEMO", "0")
    monkeypatch.setenv("C360_COOKIE_KEY", "Jm6-Hs2_Qe8wRt5yUi1oPa3sDf7gHk9lZx")


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("C360_HASH_KEY", "k", "C360_HASH_KEY must be at least 32 characters long"),
        ("C360_HASH_KEY", DEMO_HASH_KEY, "Refusing to run outside demo mode with the demo hash key"),
        ("C360_COOKIE_KEY", " " * 40, "C360_COOKIE_KEY is blank"),
        ("C360_FIELD_KEYS", "not-a-fernet-key", "C360_FIELD_KEYS: key 1 of 1 is not a Fernet key"),
    ],
)
def test_the_app_refuses_to_start_with_a_weak_demo_or_malformed_key(production, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    for path in ("app.py", "pages/30_users.py"):
        at = new_app()
        at.run()
        if path != "app.py":
            open_page(at, path)
        assert not at.exception
        shown = [e.value for e in at.error]
        assert len(shown) == 1 and shown[0].startswith("The app refuses to start:")
        assert message in shown[0]
        if len(value.strip()) >= 8:
            assert value not in shown[0]  # the key itself is never shown
        assert len(at.text_input) == 0 and len(at.dataframe) == 0
