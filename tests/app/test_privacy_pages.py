"""Every page that shows JSON details or history, as every role allowed on it: no page and no
download shows an ID number, a ciphertext or a keyed hash; roles without contact rights see
contacts masked (issue 13 item 1). The data is tests/privacy_fixture.py's, built through the
real import, quarantine, release, edit and merge paths."""

from __future__ import annotations

import re

import bcrypt
import pytest

from lib.core import warehouse
from tests import privacy_fixture as px
from tests.app.helpers import as_user, open_page

ALL = ["manager", "marketing", "steward", "admin", "lead"]
MASKED = {"manager", "marketing", "lead"}
HASH = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture
def world(warehouse_path, tmp_path, monkeypatch):
    real = bcrypt.gensalt
    monkeypatch.setattr(bcrypt, "gensalt", lambda rounds=4, prefix=b"2b": real(4, prefix))
    return px.build(tmp_path)


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every download button the page draws, by widget key."""
    import streamlit as st

    real = st.download_button

    class Seen(dict):
        # a download's data is a callable run on the click (lib/security/exports.py audits it then)
        def __getitem__(self, key):
            data = super().__getitem__(key)
            return data() if callable(data) else data

    seen = Seen()

    def capture(label, data, *args, **kwargs):
        seen[kwargs.get("key")] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", capture)
    return seen


def everything(at) -> str:
    """All a page shows: every table's cells and every other element's content (its proto)."""
    parts = []

    def walk(node):
        children = getattr(node, "children", None)
        if children:
            for child in children.values():
                walk(child)
            return
        if getattr(node, "type", "") == "arrow_data_frame":
            parts.append(node.value.to_csv())
        else:
            parts.append(str(getattr(node, "proto", "")))
            value = getattr(node, "value", None)
            if isinstance(value, str):
                parts.append(value)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def assert_no_secret(text: str, role: str) -> None:
    for secret in px.IDS:
        assert secret not in text, f"{role} sees the ID number {secret}"
    assert "gAAAAA" not in text, f"{role} sees a ciphertext"
    assert not HASH.search(text), f"{role} sees a keyed hash"
    if role in MASKED:
        for secret in px.CONTACTS:
            assert secret not in text, f"{role} sees {secret}"


@pytest.mark.parametrize("role", ALL)
def test_customer_360_flags_history_and_its_download_are_masked(world, downloads, role):
    for key in ("P1", "P4"):  # P1: edited, merged twice; P4: open import flags
        at = as_user(role)
        at.query_params["id"] = str(world[key])
        open_page(at, "pages/03_customer_360.py")
        assert not at.exception, at.exception
        text = everything(at)
        for tab in [tab.label for tab in at.tabs][1:]:  # only the open tab is built: open each
            at.session_state["c360_tab"] = tab
            at.run()
            assert not at.exception, at.exception
            text += everything(at)
        if key == "P4":
            assert "**************1230" in text  # the rejected ID, masked, is shown
        if key == "P1":
            history = downloads["history_csv"]
            assert b"customer.merge" in history and b"customer.update" in history
            text += history.decode("utf-8-sig")
        assert_no_secret(text, role)


@pytest.mark.parametrize("role", ["steward", "admin"])
def test_review_queue_shows_a_rejected_id_number_masked(world, role):
    flag_id = int(warehouse.scalar("SELECT flag_id FROM quality_flags WHERE field = 'id_number' AND status = 'open'"))
    at = open_page(as_user(role), "pages/12_review_queue.py")
    at.selectbox(key="rq_item").set_value(f"flag:{flag_id}").run()
    assert not at.exception, at.exception
    text = everything(at)
    assert "**************1230" in text
    assert_no_secret(text, role)


@pytest.mark.parametrize("role", ["steward", "admin"])
def test_quarantine_shows_id_numbers_masked(world, role):
    at = open_page(as_user(role), "pages/10_import.py")
    assert not at.exception, at.exception
    text = everything(at)
    assert "**************0012" in text
    assert_no_secret(text, role)


def test_audit_page_shows_no_id_number_ciphertext_or_hash(world):
    at = open_page(as_user("admin"), "pages/31_audit.py")
    assert not at.exception, at.exception
    text = everything(at)
    assert len(at.dataframe[0].value) >= 5  # the release, edit and merges are listed
    assert_no_secret(text, "admin")
