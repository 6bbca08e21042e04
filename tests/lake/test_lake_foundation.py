"""The foundation's warehouse behaviour, run unchanged on a lake (see conftest.warehouse_path)."""

from __future__ import annotations

from tests.unit.test_foundation import (  # noqa: F401 - collected here with the lake fixture
    test_a_failing_transaction_writes_nothing,
    test_allowed_write_is_audited_with_before_and_after,
    test_audit_entries_can_be_written_by_name_for_system_jobs,
    test_concurrent_updates_of_one_row_are_retried_and_lose_nothing,
    test_named_queries_bind_parameters_and_never_interpolate,
    test_passwords_are_stored_hashed,
    test_refused_lib_write_raises_writes_nothing_but_the_denial,
    test_unknown_query_name_is_a_clear_error,
)
