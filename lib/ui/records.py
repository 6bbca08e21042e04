"""Forms for customers added, edited, deleted and restored by hand (lib.stewardship.records).

* `new_customer_form(user)`: the "New customer" page body; a likely duplicate is shown before
  anything is saved, with links to the existing customer's 360° page and to the duplicates page;
* `deleted_banner(user, profile)`: on Customer 360°, a deleted record's banner (who, when, why)
  and, for roles that may delete, the Restore button;
* `profile_tools(user, profile)`: on Customer 360°, the "Edit profile" and "Delete customer"
  expanders (nothing at all for roles without edit_customer).

Widget values live under keys with a form generation (`..._<gen>_<field>`): a save starts a
new generation, so the form shows the saved record, and a failed save keeps what was typed.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import streamlit as st

from lib.core import i18n, validation
from lib.core.i18n import t
from lib.security import auth
from lib.stewardship import edits, records
from lib.ui.errors import shown
from lib.ui.widgets import audit_json, country_select, fmt_times

LAYOUT = list(records.FIELDS)  # the form's order: validation.EDITABLE_FIELDS
GENDERS = ["", "M", "F", "U"]
TYPES = ["B2C", "B2B"]


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def customer_inputs(prefix: str, shown_values: dict, *, id_help: str = "records.id_help") -> dict:
    """One widget per editable field, three columns; returns {field: text} for
    `records.changed_fields`. Coded fields are picked by name (gender, type, industry, country);
    a stored value outside their list stays an option, so saving never changes it unasked."""
    values: dict[str, str] = {}
    cols = st.columns(3)
    for i, f in enumerate(LAYOUT):
        col, key, label = cols[i % 3], f"{prefix}_{f}", t(f"stewards.field.{f}")
        current = _text(shown_values.get(f))
        if f == "gender":
            values[f] = _choice(col, label, GENDERS, current, lambda g: i18n.code_label("dash.gender", g), key)
        elif f == "industry":  # the known industries by name; another may be typed
            known = ["", *i18n.codes("dash.industry")]
            values[f] = _choice(
                col, label, known, current, lambda c: i18n.code_label("dash.industry", c), key, accept_new_options=True
            )
        elif f == "customer_type":
            values[f] = _choice(col, label, TYPES, current, str, key)
        elif f == "id_number":
            values[f] = col.text_input(label, value="", placeholder=current, help=t(id_help), key=key, max_chars=30)
        elif f == "country":  # a new record starts at the default country
            values[f] = country_select(col, label, current, key=key)
        elif f == "birth_date":
            values[f] = col.text_input(label, value=current, placeholder="1990-01-31", key=key)
        else:
            values[f] = col.text_input(label, value=current, key=key)
    return values


def _choice(col, label: str, options: list[str], current: str, name, key: str, **kwargs) -> str:
    """A selectbox of codes shown by name; the stored value is kept as an option when unknown."""
    options = options + ([current] if current not in options else [])
    chosen = col.selectbox(
        label,
        options,
        index=options.index(current),
        format_func=lambda code: name(code) if code else i18n.EMPTY,
        key=key,
        **kwargs,
    )
    return chosen or ""


def _duplicates_table(matches: pd.DataFrame) -> None:
    frame = matches[["customer_id", "full_name", "mobile", "email", "birth_date", "city", "matched"]].copy()
    frame["birth_date"] = [_text(v) or "–" for v in frame["birth_date"]]
    frame["matched"] = [
        ", ".join(t(f"records.dup.key.{k.strip()}") for k in str(m).split(",") if k.strip()) for m in frame["matched"]
    ]
    st.dataframe(i18n.display_frame(frame, {}, headers="records.dup.col"), hide_index=True)
    for cid, name in zip(matches["customer_id"].tolist(), matches["full_name"].tolist()):
        st.page_link(
            "pages/03_customer_360.py",
            label=t("records.dup.open", id=int(cid), name=name if isinstance(name, str) else "–"),
            query_params={"id": str(int(cid))},
            icon=":material/person:",
        )
    st.page_link("pages/13_duplicates.py", label=t("records.dup.merge_page"), icon=":material/merge:")


# ---------------------------------------------------------------- new customer


def new_customer_form(user: auth.User) -> None:
    """The New customer page: form, duplicate warning before the save, link to the new record."""
    st.title(t("records.new.title"))
    st.caption(t("records.new.caption"))
    gen = st.session_state.setdefault("nc_gen", 0)
    with st.form(f"nc_form_{gen}"):
        values = customer_inputs(f"nc_{gen}", {"country": records.default_country(), "customer_type": "B2C"})
        channel = st.selectbox(
            t("records.channel"),
            records.CHANNELS,
            format_func=lambda c: t(f"dash.channel.{c}"),
            key=f"nc_{gen}_channel",
        )
        submitted = st.form_submit_button(t("records.new.save"), type="primary")
    if submitted:
        st.session_state.pop("nc_pending", None)
        st.session_state.pop("nc_created", None)
        _create(user, values, channel, allow_duplicates=False)
    pending = st.session_state.get("nc_pending")
    if pending:
        st.warning(t("records.dup.found", n=len(pending["matches"])))
        st.caption(t("records.dup.hint"))
        _duplicates_table(pending["matches"])
        a, b = st.columns(2)
        if a.button(t("records.dup.save_anyway"), key="nc_save_anyway"):
            st.session_state.pop("nc_pending", None)
            _create(user, pending["values"], pending["channel"], allow_duplicates=True)
            st.rerun()
        if b.button(t("records.dup.cancel"), key="nc_cancel"):
            st.session_state.pop("nc_pending", None)
            st.rerun()
    created = st.session_state.get("nc_created")
    if created:
        st.success(t("records.new.saved", id=created))
        st.page_link(
            "pages/03_customer_360.py",
            label=t("records.new.open", id=created),
            query_params={"id": str(created)},
            icon=":material/person:",
        )


def _create(user: auth.User, values: dict, channel: str, allow_duplicates: bool) -> None:
    with shown():
        try:
            with st.spinner(t("records.new.saving")):
                cid = records.create_customer(user, values, channel=channel, allow_duplicates=allow_duplicates)
        except records.LikelyDuplicates as exc:
            st.session_state["nc_pending"] = {"values": values, "channel": channel, "matches": exc.matches}
        else:
            st.session_state["nc_created"] = cid
            st.session_state["nc_gen"] = st.session_state.get("nc_gen", 0) + 1
            st.rerun()  # a fresh form for the next customer, the link to this one


# ---------------------------------------------------------------- Customer 360°


def deleted_banner(user: auth.User, profile: dict) -> None:
    """A deleted record: who deleted it, when and why; Restore for roles that may delete."""
    if profile.get("deleted_at") is None:
        return
    cid = int(profile["customer_id"])
    info = records.deletion(user, cid) or {"deleted_at": profile["deleted_at"], "version": profile.get("version")}
    st.error(
        t(
            "records.deleted.banner",
            date=fmt_times([info["deleted_at"]])[0],
            user=info.get("username") or "–",
            reason=info.get("reason") or "–",
        ),
        icon=":material/delete:",
    )
    if not auth.can(user, "delete_customer"):
        return
    reason = st.text_input(t("records.restore.reason"), key=f"rec_restore_reason_{cid}")
    if st.button(t("records.restore.button"), key=f"rec_restore_{cid}", type="primary"):
        with shown():
            with st.spinner(t("records.refreshing")):
                records.restore_customer(user, cid, reason, int(info["version"]))
            _reset_edit(cid)
            st.session_state["rec_notice"] = t("records.restore.done", id=cid)
            st.rerun()


def profile_tools(user: auth.User, profile: dict) -> None:
    """Edit profile and Delete customer, for roles that may edit (no form at all otherwise)."""
    notice = st.session_state.pop("rec_notice", None)
    if notice:
        st.success(notice)
    if not auth.can(user, "edit_customer"):
        return
    if profile.get("merged_into") is not None or profile.get("deleted_at") is not None:
        return
    cid = int(profile["customer_id"])
    with st.expander(t("records.edit.title"), icon=":material/edit:"):
        _edit_form(user, cid)
    if auth.can(user, "delete_customer"):
        with st.expander(t("records.delete.title"), icon=":material/delete:"):
            st.caption(t("records.delete.help"))
            reason = st.text_input(t("records.delete.reason"), key=f"rec_delete_reason_{cid}")
            if st.button(t("records.delete.button"), key=f"rec_delete_{cid}"):
                with shown():
                    with st.spinner(t("records.refreshing")):
                        # the version the page shows: a save by someone else since then is refused
                        records.delete_customer(user, cid, reason, int(profile["version"]))
                    _reset_edit(cid)
                    st.session_state["rec_notice"] = t("records.delete.done", id=cid)
                    st.rerun()


def _loaded(user: auth.User, cid: int) -> dict:
    """The record as the edit form was opened (kept until a save, a reload or an undo)."""
    key = f"rec_loaded_{cid}"
    if key not in st.session_state:
        st.session_state[key] = edits.get(user, cid) or {}
    return st.session_state[key]


def _reset_edit(cid: int) -> None:
    st.session_state.pop(f"rec_loaded_{cid}", None)
    st.session_state.pop(f"rec_conflict_{cid}", None)
    st.session_state[f"rec_gen_{cid}"] = st.session_state.get(f"rec_gen_{cid}", 0) + 1


def _edit_form(user: auth.User, cid: int) -> None:
    loaded = _loaded(user, cid)
    gen = st.session_state.get(f"rec_gen_{cid}", 0)
    st.caption(t("records.edit.caption", version=loaded.get("version")))
    with st.form(f"rec_edit_{cid}_{gen}"):
        values = customer_inputs(f"rec_{cid}_{gen}", loaded)
        saved = st.form_submit_button(t("records.edit.save"), type="primary")
    allow = st.session_state.pop(f"rec_allow_dup_{cid}", False)
    if saved:
        st.session_state[f"rec_values_{cid}"] = values
        st.session_state.pop(f"rec_conflict_{cid}", None)
    if saved or allow:
        changes = records.changed_fields(loaded, st.session_state.get(f"rec_values_{cid}", {}))
        if not changes:
            st.info(t("records.edit.no_changes"))
        else:
            _save_edit(user, cid, changes, int(loaded["version"]), allow)
    conflict = st.session_state.get(f"rec_conflict_{cid}")
    if conflict:
        st.error(t("records.edit.conflict", version=conflict["version"]))
        st.dataframe(
            pd.DataFrame(
                {
                    t("records.conflict.field"): [t(f"stewards.field.{k}") for k in conflict["yours"]],
                    t("records.conflict.yours"): [_text(v) or "–" for v in conflict["yours"].values()],
                    t("records.conflict.current"): [
                        _text(conflict["current"].get(k)) or "–" for k in conflict["yours"]
                    ],
                }
            ),
            hide_index=True,
        )
        if st.button(t("records.edit.reload"), key=f"rec_reload_{cid}"):
            _reset_edit(cid)
            st.rerun()
    dups = st.session_state.get(f"rec_dups_{cid}")
    if dups is not None:
        st.warning(t("records.dup.found", n=len(dups)))
        _duplicates_table(dups)
        if st.button(t("records.dup.save_anyway"), key=f"rec_save_anyway_{cid}"):
            st.session_state.pop(f"rec_dups_{cid}", None)
            st.session_state[f"rec_allow_dup_{cid}"] = True
            st.rerun()
    _history(user, cid)


def _save_edit(user: auth.User, cid: int, changes: dict, version: int, allow: bool) -> None:
    st.session_state.pop(f"rec_dups_{cid}", None)
    with shown():
        try:
            records.update_profile(user, cid, changes, version, allow_duplicates=allow)
        except records.EditConflict as exc:
            st.session_state[f"rec_conflict_{cid}"] = {
                "yours": exc.yours,
                "current": exc.current,
                "version": exc.version,
            }
        except records.LikelyDuplicates as exc:
            st.session_state[f"rec_dups_{cid}"] = exc.matches
        except validation.ValidationError as exc:
            for field, message in exc.by_field().items():
                st.error(f"{t('stewards.field.' + field)}: {message}")
        else:
            _reset_edit(cid)
            st.session_state["rec_notice"] = t("records.edit.saved", id=cid)
            st.rerun()


def _history(user: auth.User, cid: int) -> None:
    history = edits.edit_history(user, cid, limit=10)
    if history.empty:
        return
    st.markdown(f"**{t('records.history.title')}**")
    st.dataframe(
        i18n.display_frame(
            history.drop(columns=[c for c in ("detail",) if c in history.columns]),
            {"username": "dash.actor", "action": "dash.action"},
            headers="admin.audit.col",
            json=audit_json("before", "after"),
        ),
        hide_index=True,
    )
    undoable = history[history["action"] == "customer.update"]["audit_id"].tolist()
    if not undoable:
        return
    choice = st.selectbox(t("records.history.undo_which"), undoable, key=f"rec_undo_id_{cid}")
    if st.button(t("records.history.undo"), key=f"rec_undo_{cid}"):
        with shown():
            edits.undo_edit(user, int(choice))
            _reset_edit(cid)
            st.session_state["rec_notice"] = t("records.history.undone", id=cid)
            st.rerun()


def recently_deleted(user: auth.User) -> None:
    """For roles that may restore: the latest deleted customers, each a link to its 360° page."""
    if not auth.can(user, "delete_customer"):
        return
    frame = records.recently_deleted(user, limit=10)
    if frame.empty:
        return
    with st.expander(t("records.deleted.list", n=len(frame)), icon=":material/delete:"):
        for row in frame.to_dict("records"):
            st.page_link(
                "pages/03_customer_360.py",
                label=t(
                    "records.deleted.item",
                    id=int(row["customer_id"]),
                    name=row["full_name"] if isinstance(row["full_name"], str) else "–",
                    date=fmt_times([row["deleted_at"]])[0],
                    user=row["deleted_by"] if isinstance(row["deleted_by"], str) else "–",
                ),
                query_params={"id": str(int(row["customer_id"]))},
                icon=":material/person_off:",
            )
