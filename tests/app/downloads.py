"""Downloading from a page in AppTest the way the browser does.

A lazy download button (lib/ui.py `download`) hands Streamlit a callable; the browser's click
sends a `deferred_file` request and the server runs `MediaFileManager.execute_deferred`, which
calls it. AppTest's mock runtime keeps a real MediaFileManager but no browser, so the fixture
remembers which manager registered each deferred file and `click(at, key)` executes it - the
same server code path - and returns the bytes the user would receive.
"""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager


@pytest.fixture
def click_download(monkeypatch):
    managers: dict[str, MediaFileManager] = {}
    real = MediaFileManager.add_deferred

    def remember(self, *args, **kwargs):
        file_id = real(self, *args, **kwargs)
        managers[file_id] = self
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", remember)

    def click(at, key: str) -> bytes:
        button = at.download_button(key=key)
        assert button.proto.ignore_rerun, f"{key}: on_click='ignore' keeps the page (no rerun)"
        file_id = button.proto.deferred_file_id
        assert file_id, f"{key} is not a lazy download (its bytes were built while drawing)"
        manager = managers[file_id]
        url = manager.execute_deferred(file_id)
        return manager._storage.get_file(url.rsplit("/", 1)[1]).content

    return click


@pytest.fixture
def static_downloads(monkeypatch):
    """The bytes of every non-lazy download button a page draws, by label (prepared exports)."""
    import streamlit as st

    real, seen = st.download_button, {}

    def capture(label, data, *args, **kwargs):
        seen[label] = data
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", capture)
    return seen
