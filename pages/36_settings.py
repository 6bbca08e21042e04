"""Settings: every run-time setting with its meaning, default and unit; validated, versioned, audited."""

import streamlit as st

from lib import ui
from lib.admin import setting_changes
from lib.core import i18n, settings
from lib.core.i18n import t

user = ui.guard("settings")

st.title(t("nav.settings"))
st.caption(t("settings.caption"))

if flash := st.session_state.pop("settings_flash", None):
    st.success(flash)


def shown(key: str, value) -> str:
    """A setting's value as text for the table and the form."""
    if isinstance(value, bool):
        return t("settings.yes" if value else "settings.no")
    if value is None or value == "":
        return t("settings.today") if key == "data_as_of" else t("settings.empty")
    if isinstance(value, int):
        return f"{value:,}" if settings.SPECS[key].unit not in ("hour", "port") else str(value)
    if isinstance(value, float):
        return f"{value:,g}"
    return str(value)


def typed(value) -> str:
    """A stored value as it is typed into the form: true/false, numbers and text as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def allowed(row) -> str:
    spec = settings.SPECS[row["key"]]
    if spec.kind in ("int", "float"):
        return f"{shown(row['key'], spec.minimum)} – {shown(row['key'], spec.maximum)}"
    return t(f"settings.kind.{spec.kind}") if i18n.has(f"settings.kind.{spec.kind}") else ""


overview = setting_changes.overview(user)
for group in settings.GROUPS:
    rows = overview[overview["group"] == group]
    if rows.empty:
        continue
    st.subheader(t(f"settings.group.{group}"))
    table = rows.assign(
        setting=[t(f"settings.name.{k}") for k in rows["key"]],
        meaning=[t(f"settings.meaning.{k}") for k in rows["key"]],
        value=[shown(k, v) for k, v in zip(rows["key"], rows["value"])],
        default=[shown(k, v) for k, v in zip(rows["key"], rows["default"])],
        unit=[t(f"settings.unit.{u}") if u else "" for u in rows["unit"]],
        range=[allowed(r) for r in rows.to_dict("records")],
        updated=[
            f"{r['updated_by']} · {r['updated_at']:%Y-%m-%d %H:%M}" if r["changed"] else t("settings.default_value")
            for r in rows.to_dict("records")
        ],
    )[["setting", "meaning", "value", "default", "unit", "range", "updated"]]
    st.dataframe(i18n.display_frame(table, headers="settings.col"), hide_index=True, width="stretch")
    if group == "delivery":
        st.caption(t("settings.secret_note"))

st.subheader(t("settings.change.title"))
keys = list(overview["key"])
key = st.selectbox(
    t("settings.change.setting"), keys, format_func=lambda k: t(f"settings.name.{k}"), key="settings_key"
)
current = overview.set_index("key").loc[key]
st.caption(t(f"settings.meaning.{key}"))
st.caption(t("settings.change.current", value=shown(key, current["value"]), default=shown(key, current["default"])))
value = st.text_input(
    t("settings.change.value"),
    value=typed(current["value"]),
    max_chars=500,
    key=f"settings_value_{key}",
)
if st.button(t("settings.change.save"), type="primary"):
    with ui.shown():
        saved = setting_changes.put(user, key, value)
        st.session_state["settings_flash"] = t(
            "settings.change.saved", setting=t(f"settings.name.{key}"), value=shown(key, saved)
        )
        st.session_state.pop(f"settings_value_{key}", None)
        st.rerun()

st.subheader(t("settings.history.title"))
history = setting_changes.history(user)
if history.empty:
    st.info(t("settings.history.none"))
else:
    history["changed_at"] = ui.fmt_times(history["changed_at"], "%Y-%m-%d %H:%M:%S")
    for column in ("before", "after"):
        history[column] = [t("settings.default_value") if v is None else typed(v) for v in history[column]]
    history["key"] = [t(f"settings.name.{k}") for k in history["key"]]
    st.dataframe(
        i18n.display_frame(history.drop(columns=["change_id"]), headers="settings.history.col"),
        hide_index=True,
        width="stretch",
    )
