"""The one error renderer: user errors as their message, anything else with a logged reference."""

from __future__ import annotations

import logging
import re

from streamlit.testing.v1 import AppTest

from lib.core import validation


def _page(kind: str) -> AppTest:
    def script(kind):
        import streamlit as st

        from lib.ui import errors as ui_errors
        from lib.core import errors, validation

        with ui_errors.shown() as outcome:
            if kind == "validation":
                raise validation.ValidationError([validation.FieldError("email", "invalid_email")])
            if kind == "conflict":
                raise errors.ConflictError("The segment was changed by someone else; reload it.")
            if kind == "bug":
                raise ZeroDivisionError("division by zero")
            st.success("saved")
        st.write(f"ok={outcome.ok}")

    at = AppTest.from_function(script, kwargs={"kind": kind}, default_timeout=30)
    return at.run()


def test_a_validation_error_is_shown_as_the_rule_it_broke():
    at = _page("validation")
    assert not at.exception
    assert [e.value for e in at.error] == [validation.FieldError("email", "invalid_email").message()]
    assert [m.value for m in at.markdown] == ["ok=False"]


def test_a_conflict_is_shown_as_worded():
    at = _page("conflict")
    assert [e.value for e in at.error] == ["The segment was changed by someone else; reload it."]


def test_an_unexpected_error_gets_a_reference_that_is_also_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="lib.ui.errors"):
        at = _page("bug")
    assert not at.exception and not at.success
    (message,) = [e.value for e in at.error]
    ref = re.fullmatch(
        r"Unexpected error \(reference ([0-9a-f]{8})\)\. It has been logged; "
        r"please tell an administrator the reference\.",
        message,
    ).group(1)
    (record,) = [r for r in caplog.records if r.name == "lib.ui.errors"]
    assert record.getMessage() == f"unexpected error ref={ref}"
    assert record.exc_info[0] is ZeroDivisionError


def test_no_error_runs_the_whole_block():
    at = _page("fine")
    assert [s.value for s in at.success] == ["saved"] and not at.error
    assert [m.value for m in at.markdown] == ["ok=True"]
