"""Backups: create snapshots, retention, restore drill (pass/fail per table), restore."""

import pandas as pd
import streamlit as st

from lib.security import auth
from lib.admin import backup
from lib.core import i18n, settings
from lib import ui
from lib.core.i18n import t
from lib.admin import setting_changes

user = ui.guard("backups")

st.title(t("nav.backups"))
st.caption(t("admin.backups.caption"))

if flash := st.session_state.pop("backups_flash", None):
    st.success(flash)

if not backup.supported():
    # A DuckLake is backed up through its PostgreSQL catalog and data files, not by this page.
    st.info(t("admin.backups.lake_mode"))
    st.stop()

snaps = backup.list_snapshots(user)
retention = int(settings.get("backup_retention"))
ui.kpi_row(
    [
        {"label": t("admin.backups.count"), "value": ui.fmt_int(len(snaps))},
        {"label": t("admin.backups.latest"), "value": snaps[0]["created_at"][:16] if snaps else "–"},
        {"label": t("admin.backups.retention"), "value": ui.fmt_int(retention)},
    ]
)

left, right = st.columns([3, 1])
with left.form("create_backup", clear_on_submit=True):
    note = st.text_input(t("admin.backups.note"), max_chars=200)
    if st.form_submit_button(t("admin.backups.create"), type="primary"):
        try:
            m = backup.create(user, note=note)
        except (backup.BackupError, auth.PermissionDenied) as exc:
            ui.show_error(exc)
        else:
            st.session_state["backups_flash"] = t(
                "admin.backups.created",
                id=m["id"],
                tables=len(m["tables"]),
                rows=f"{sum(v['rows'] for v in m['tables'].values()):,}",
            )
            st.session_state.pop("drill_result", None)
            st.rerun()
with right.form("retention"):
    keep = st.number_input(t("admin.backups.retention"), min_value=1, max_value=365, value=retention)
    if st.form_submit_button(t("admin.backups.save_retention")):
        setting_changes.put(user, "backup_retention", int(keep))
        st.rerun()

if not snaps:
    st.info(t("admin.backups.none"))
    st.stop()

table = pd.DataFrame(snaps)
table["bytes"] = (table["bytes"] / 1e6).round(1)
table = i18n.display_frame(table, {"kind": "admin.backups.kind"}, headers="admin.backups.col")
# counts with separators ("3,781,987"), sorted as numbers
counts = {t(f"admin.backups.col.{c}"): ui.count_column() for c in ("tables", "rows", "users")}
st.dataframe(table, hide_index=True, width="stretch", column_config=counts)

ids = [s["id"] for s in snaps]


def show_check(result: backup.CheckResult) -> None:
    if result.passed:
        st.success(t("admin.backups.drill.pass", id=result.snapshot_id, tables=len(result.tables)))
    else:
        failed = [r.table for r in result.tables if not r.ok] + [
            t(f"admin.backups.check.{k}") for k, ok in result.checks.items() if not ok
        ]
        st.error(t("admin.backups.drill.fail", id=result.snapshot_id, tables=", ".join(failed)))
    for name, ok in result.checks.items():
        st.markdown(
            (":green[:material/check_circle:]" if ok else ":red[:material/cancel:]")
            + " "
            + t(f"admin.backups.check.{name}")
        )
    for note in result.notes:
        st.caption(i18n.note_text(note))
    rows = pd.DataFrame(result.rows())[["table", "rows_expected", "rows_found", "ok"]]
    rows.columns = [t(f"admin.backups.col.{c}") for c in rows.columns]
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={t(f"admin.backups.col.{c}"): ui.count_column() for c in ("rows_expected", "rows_found")},
    )


st.subheader(t("admin.backups.drill"))
st.caption(t("admin.backups.drill.caption"))
# keyed by the newest snapshot: after a new one is created the choice starts on it, not on the
# one chosen before (clearing the old key's state did not reset the widget)
chosen = st.selectbox(t("admin.backups.snapshot"), ids, key=f"drill_snapshot_{ids[0]}")
c1, c2, _ = st.columns([1, 1, 3])
if c1.button(t("admin.backups.drill.run"), type="primary"):
    with ui.shown():
        st.session_state["drill_result"] = backup.drill(user, chosen)
if c2.button(t("admin.backups.verify")):
    with ui.shown():
        st.session_state["drill_result"] = backup.verify(user, chosen)
if result := st.session_state.get("drill_result"):
    show_check(result)

st.subheader(t("admin.backups.restore"))
st.caption(t("admin.backups.restore.caption"))
with st.form("restore", clear_on_submit=True):
    target = st.selectbox(t("admin.backups.snapshot"), ids, key=f"restore_snapshot_{ids[0]}")
    typed = st.text_input(t("admin.backups.restore.type_id"), max_chars=40)
    submitted = st.form_submit_button(t("admin.backups.restore.button"))
if submitted:
    if typed.strip() != target:
        st.error(t("admin.backups.restore.mismatch"))
    else:
        try:
            with st.spinner(t("admin.backups.restore")):
                done = backup.restore(user, target)
        except (backup.BackupError, auth.PermissionDenied) as exc:
            ui.show_error(exc)
        else:
            st.cache_data.clear()
            st.session_state.pop("drill_result", None)
            st.session_state["backups_flash"] = t(
                "admin.backups.restore.done", id=done["restored"], pre=done["pre_restore_snapshot"]
            )
            st.rerun()
