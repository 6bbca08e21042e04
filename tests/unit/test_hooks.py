"""After-load hooks: subscribers run after a committed load; a failing one is reported, not raised."""

from __future__ import annotations

from lib.core import hooks
from lib.dashboards import aggregates
from lib.marketing import preferences


def test_the_dashboards_and_the_preferences_subscribe_by_declaration():
    assert hooks.SUBSCRIBERS == ("lib.dashboards.aggregates", "lib.marketing.preferences")
    hooks._subscribe()
    assert aggregates._refresh_after_load in hooks._hooks
    assert preferences._refresh_after_load in hooks._hooks


def test_a_failing_subscriber_becomes_a_note_and_the_others_still_run(monkeypatch):
    seen = []
    monkeypatch.setattr(hooks, "_hooks", [])
    monkeypatch.setattr(hooks, "_subscribed", True)

    @hooks.after_load
    def broken(load):
        raise RuntimeError("disk full")

    @hooks.after_load
    def counting(load):
        seen.append(load)

    load = hooks.Load("import", "7", (1, 2))
    notes = hooks.loaded(load)
    assert notes == [
        f"{__name__}.test_a_failing_subscriber_becomes_a_note_and_the_others_still_run"
        ".<locals>.broken failed: disk full"
    ]
    assert seen == [load]
