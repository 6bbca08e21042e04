"""Quality rules on a fixture with known failures, runs, scores and flags."""

from __future__ import annotations

import pytest

from lib.security import auth
from lib.stewardship import edits, quality, review
from lib.core import warehouse
from lib.admin import setting_changes
from tests import stewards_fixtures as fx
from tests.stewards_fixtures import _stw_root, stw_wh as wh  # noqa: F401 - fixtures


def failing(rule_id: str) -> set[int]:
    rule = quality.RULES_BY_ID[rule_id]
    frame = warehouse.read(rule.sql(), **quality.rule_params())
    return set(frame.loc[frame["failed"].astype(bool), "customer_id"].astype(int))


def test_every_rule_has_a_dimension_severity_field_and_a_fixture_case():
    assert {r.rule_id for r in quality.RULES} == set(fx.EXPECTED)
    assert {r.dimension for r in quality.RULES} == set(quality.DIMENSIONS)
    assert all(r.severity in quality.SEVERITIES for r in quality.RULES)


@pytest.mark.parametrize("rule_id", sorted(fx.EXPECTED))
def test_rule_fails_exactly_the_records_built_to_fail_it(wh, rule_id):
    assert failing(rule_id) == fx.EXPECTED[rule_id]


def test_stale_months_come_from_settings(wh):
    setting_changes.put_system("stale_after_months", 12)  # stale_before = 2025-11-01
    assert failing("not_stale") == {20, 23}
    setting_changes.put_system("stale_after_months", 10)  # 2026-01-01: still only 20 and 23
    assert failing("not_stale") == {20, 23}
    setting_changes.put_system("stale_after_months", 30)  # 2024-05-01: 23 (2024-06-01) is fresh now
    assert failing("not_stale") == {20}


def test_a_run_stores_counts_per_rule_and_source_and_scores(wh):
    result = quality.run(auth.SYSTEM)
    assert result.customers == fx.LIVE
    res = quality.results(result.run_id)
    by_rule = res.groupby("rule_id")[["checked", "failed"]].sum()
    assert by_rule.loc["name_present"].tolist() == [26, 1]
    assert by_rule.loc["company_present"].tolist() == [2, 1]  # B2B population only
    assert by_rule.loc["mobile_unique"].tolist() == [25, 2]  # customer 3 has no mobile
    card = quality.scorecard()
    assert card.by_channel["channel"].tolist() == ["web"]
    weights = {"high": 3, "medium": 2, "low": 1}
    expected = sum(
        weights[r.severity] * (1 - by_rule.loc[r.rule_id, "failed"] / by_rule.loc[r.rule_id, "checked"])
        for r in quality.RULES
    ) / sum(weights[r.severity] for r in quality.RULES)
    assert card.overall == pytest.approx(expected)
    assert len(card.trend) == 1


def test_a_run_opens_one_flag_per_failure_and_the_next_run_adds_none(wh):
    quality.run(auth.SYSTEM)
    total = sum(len(v) for v in fx.EXPECTED.values())
    assert warehouse.scalar("SELECT count(*) FROM quality_flags WHERE status = 'open'") == total
    quality.run(auth.SYSTEM)
    assert warehouse.scalar("SELECT count(*) FROM quality_flags WHERE status = 'open'") == total


def test_drilldown_lists_the_failing_records_with_their_keys(wh, users):
    rows = quality.failing_records(users["steward"], "email_unique")
    assert rows[["customer_id", "source", "source_record_id"]].values.tolist() == [
        [15, "test", "T15"],
        [16, "test", "T16"],
    ]


def test_fixing_a_record_resolves_its_flag_and_a_run_does_not_reopen_it(wh, users):
    quality.run(auth.SYSTEM)
    flag = review.items(users["steward"], review.QueueFilter(rule_id="mobile_valid")).iloc[0]
    edits.update_customer(users["steward"], 7, {"mobile": "138 0013 8007"}, 1, flag_id=int(flag["item_id"]))
    assert review.flag(auth.SYSTEM, int(flag["item_id"]))["status"] == "resolved"
    quality.run(auth.SYSTEM)
    assert failing("mobile_valid") == set()
    assert warehouse.scalar("SELECT count(*) FROM quality_flags WHERE customer_id = 7 AND status = 'open'") == 0


def test_an_ignored_finding_stays_closed_until_the_record_changes(wh, users):
    quality.run(auth.SYSTEM)
    flag_id = int(
        review.items(users["steward"], review.QueueFilter(rule_id="mobile_not_placeholder")).iloc[0]["item_id"]
    )
    edits.ignore_flag(users["steward"], flag_id, "test line of the call centre")
    quality.run(auth.SYSTEM)
    open_24 = "SELECT count(*) FROM quality_flags WHERE customer_id = 24 AND status = 'open'"
    assert warehouse.scalar(open_24) == 0
    edits.update_customer(users["steward"], 24, {"city": "广州市"}, 1)
    quality.run(auth.SYSTEM)
    assert warehouse.scalar(open_24) == 1
