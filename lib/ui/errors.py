"""The one error renderer of the pages (Streamlit; to become lib/ui/errors.py).

    with ui.shown():
        tags.add(user, customer_id, tag)
        st.success(...)

A UserError (lib/core/errors.py) is shown as its message: validation failures one line per
field, conflicts and refusals as they are worded. Anything else is a defect: the page says
"unexpected error" with a short reference id, and the traceback is logged with the same id, so
a user's screenshot finds the log line. Pages write no `except Exception` of their own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from lib.core import errors, i18n, validation
from lib.core.i18n import t

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What happened inside `shown()`: `ok` is False once an error was shown."""

    ok: bool = True
    error: BaseException | None = None


def render(exc: BaseException) -> str | None:
    """Show `exc` on the page; returns the reference id of an unexpected error (else None)."""
    if isinstance(exc, validation.ValidationError) and exc.errors:
        for e in exc.errors:  # one message per field, each as worded
            st.error(e.message())
        return None
    if isinstance(exc, errors.UserError):
        key = getattr(exc, "key", None)
        st.error(t(key, **exc.values) if key and i18n.has(key) else str(exc))
        return None
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error ref=%s", ref, exc_info=exc)
    st.error(t("common.unexpected", ref=ref))
    return ref


@contextmanager
def shown(stop: bool = False) -> Iterator[Outcome]:
    """Run the block; an error ends it and is rendered (then `st.stop()` when `stop`).
    Streamlit's own st.stop()/st.rerun() are BaseExceptions and pass through."""
    outcome = Outcome()
    try:
        yield outcome
    except Exception as exc:  # noqa: BLE001 - the one place pages' errors are turned into messages
        outcome.ok, outcome.error = False, exc
        render(exc)
        if stop:
            st.stop()
