"""The review queue's bulk actions (issue #16 item 6): rows selected in the queue's table are
verified or ignored together with one reason, in one transaction (review.bulk_resolve). After
a save the page reruns with a fresh table key, so the counts and the list are read again and
no selection points at rows that moved (the queue is read uncached: lib/ui/cache.py policy)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.core import validation
from lib.core.i18n import t
from lib.security import auth
from lib.stewardship import review
from lib.ui.errors import shown


def bulk_actions(user: auth.User, items: pd.DataFrame, rows: list[int]) -> None:
    message = st.session_state.pop("rq_bulk_flash", None)
    if message:
        st.success(message)
    picked = items.iloc[[r for r in rows if 0 <= r < len(items)]]
    flags = picked[picked["item_kind"] == "flag"]
    with st.container(border=True):
        st.markdown(f"**{t('ixn.bulk.title')}**")
        if flags.empty:
            st.caption(t("ixn.bulk.help"))
        else:
            st.write(t("ixn.bulk.selected", n=len(flags)))
        if len(picked) > len(flags):
            st.caption(t("ixn.bulk.skipped", n=len(picked) - len(flags)))
        if flags.empty:
            return
        reason = st.text_input(t("ixn.bulk.reason"), key="rq_bulk_reason")
        c1, c2 = st.columns(2)
        action = None
        if c1.button(t("ixn.bulk.verify"), key="rq_bulk_verify"):
            action = "verify"
        if c2.button(t("ixn.bulk.ignore"), key="rq_bulk_ignore"):
            action = "ignore"
        if action is None:
            return
        with shown():
            try:
                n = review.bulk_resolve(user, flags["item_id"].astype(int).tolist(), action, reason)
            except validation.ValidationError as exc:
                for field, msg in exc.by_field().items():
                    st.error(f"{validation.field_label(field)}: {msg}")
                return
            st.session_state["rq_bulk_flash"] = t(
                f"ixn.bulk.done_{'verified' if action == 'verify' else 'ignored'}", n=n
            )
            st.session_state["rq_saves"] = st.session_state.get("rq_saves", 0) + 1
            st.session_state.pop("rq_bulk_reason", None)
            st.rerun()
