"""The load generator (bench/load.py) against the real app server: sessions signed in through
the login form at Streamlit's protocol level, every page of each role, no error."""

from __future__ import annotations

import argparse

from bench import load


def test_protocol_sessions_sign_in_and_visit_every_page_of_their_roles_without_errors(app_server):
    args = argparse.Namespace(sessions=5, duration=25.0, think=(0.2, 0.6), ramp=2.0)
    views, samples, wall = load.run_sync(load.drive(args, app_server, None, 2000))
    report = load.summarise(views, samples, args, [], wall)
    assert report["errors"] == 0, report["error_examples"]
    assert report["logins"] == 5  # one per session, each through the form (bcrypt and all)
    visited = set(report["per_page"]) - {"login"}
    # each session does every action of its role's mix once first: all of them are covered
    assert visited == {action for mix in load.MIX.values() for action, _ in mix}
    assert report["p95_s"] < 10
    slowest = report["slowest"]  # the outliers, with when they happened
    assert len(slowest) == 5 and [v["seconds"] for v in slowest] == sorted(
        (v["seconds"] for v in slowest), reverse=True
    )
    assert all(0 <= v["at_s"] <= wall and v["nth_view_of_session"] >= 1 for v in slowest)
    assert f"{slowest[0]['page']} {slowest[0]['seconds']} s at" in load.markdown(report)


def test_a_wrong_password_is_reported_as_an_error_not_a_page_view(app_server):
    async def attempt():
        tab = load.Tab(app_server)
        await tab.open()
        try:
            return await load.log_in(tab, "manager", "not-the-password")
        finally:
            await tab.close()

    _, error = load.run_sync(attempt())
    assert error.startswith("not signed in")
