"""Alerts and settings history on a DuckLake (sequences, RETURNING and JSON through lib/core/lake)."""

from tests.unit.test_admin_alerts import (  # noqa: F401 - collected here with the lake fixture
    fast_bcrypt,
    test_a_steward_acknowledges_quality_alerts_and_is_refused_the_others,
    test_acknowledge_with_a_note_is_audited,
    test_mass_export_alert_after_an_export_of_n_rows,
    test_one_open_alert_per_rule_and_subject_within_the_window,
    test_repeated_failed_logins_for_one_username_raise_one_alert,
    test_the_webhook_endpoint_receives_json,
    wh,
)
from tests.unit.test_admin_settings import (  # noqa: F401
    test_a_change_is_versioned_audited_and_used_at_once,
)
