"""Users and roles: the access review, then add, change roles, disable, reset or unlock."""

import streamlit as st

from lib.security import auth
from lib.admin import users
from lib import ui
from lib.core import i18n
from lib.core.i18n import t

user = ui.guard("users")

st.title(t("nav.users"))
review = users.access_review(user)
days = users.DORMANT_AFTER_DAYS
ui.kpi_row(
    [
        {"label": t("admin.users.accounts"), "value": ui.fmt_int(len(review))},
        {"label": t("admin.users.enabled"), "value": ui.fmt_int((~review["disabled"]).sum())},
        {
            "label": t("admin.users.dormant"),
            "value": ui.fmt_int(review["dormant"].sum()),
            "help": t("admin.users.dormant.help", days=days),
        },
        {"label": t("admin.users.locked"), "value": ui.fmt_int(review["locked"].sum())},
    ]
)

st.subheader(t("admin.users.review"))
st.caption(t("admin.users.review.caption", days=days))
columns = [
    "username",
    "display_name",
    "roles",
    "disabled",
    "last_login",
    "last_activity",
    "days_inactive",
    "dormant",
    "locked",
]
table = review[columns].copy()
table["roles"] = table["roles"].map(ui.role_names)
for when in ("last_login", "last_activity"):
    table[when] = ui.fmt_times(table[when], missing=t("admin.users.never"))
table = i18n.display_frame(table.rename(columns={"display_name": "name"}), headers="admin.users.col")
st.dataframe(table, hide_index=True, width="stretch")

names = review["username"].tolist()
role_label = lambda r: t(f"role.{r}")  # noqa: E731
tabs = ui.tabs({code: t(f"admin.users.tab.{code}") for code in ("add", "roles", "access", "password")}, key="users_tab")
tab_add, tab_roles, tab_access, tab_password = tabs["add"], tabs["roles"], tabs["access"], tabs["password"]
ADD_FIELDS = ("add_username", "add_display_name", "add_email", "add_roles", "add_password")


def attempt(action, message: str, clear: tuple[str, ...] = ()) -> None:
    """Run a lib call; show the lib's own message on refusal (the form keeps what was typed),
    else forget the `clear` fields, confirm and refresh (on the same tab)."""
    try:
        action()
    except (users.AccountError, auth.PermissionDenied) as exc:
        ui.show_error(exc)
        return
    for key in clear:
        st.session_state.pop(key, None)
    st.session_state["admin_users_flash"] = message
    st.rerun()


if flash := st.session_state.pop("admin_users_flash", None):
    st.success(flash)

with tab_add:
    with st.form("add_user"):  # kept on a refusal, cleared after a success (attempt)
        c1, c2 = st.columns(2)
        username = c1.text_input(t("admin.users.username"), max_chars=32, key="add_username")
        display_name = c2.text_input(t("admin.users.display_name"), max_chars=100, key="add_display_name")
        email = c1.text_input(t("admin.users.email"), max_chars=254, key="add_email")
        roles = c2.multiselect(
            t("admin.users.roles"), auth.ROLES, format_func=role_label, placeholder=t("common.choose"), key="add_roles"
        )
        password = st.text_input(
            t("admin.users.password"),
            type="password",
            help=t("admin.users.password.help", n=users.MIN_PASSWORD_LENGTH),
            key="add_password",
        )
        if st.form_submit_button(t("admin.users.add"), type="primary"):
            attempt(
                lambda: users.add_user(user, username, display_name, roles, password, email),
                t("admin.users.added", username=username.strip().lower()),
                clear=ADD_FIELDS,
            )

with tab_roles:
    who = st.selectbox(t("admin.users.pick"), names, key="roles_user")
    current = next(iter(review.loc[review["username"] == who, "roles"]), [])
    with st.form("set_roles"):
        roles = st.multiselect(
            t("admin.users.roles"),
            auth.ROLES,
            default=list(current),
            format_func=role_label,
            placeholder=t("common.choose"),
        )
        if st.form_submit_button(t("admin.users.save_roles"), type="primary"):
            attempt(
                lambda: users.set_roles(user, who, roles),
                t("admin.users.roles_saved", username=who, roles=", ".join(role_label(r) for r in roles)),
            )

with tab_access:
    st.caption(t("admin.users.disable.caption"))
    who = st.selectbox(t("admin.users.pick"), names, key="access_user")
    disabled = bool(review.loc[review["username"] == who, "disabled"].iloc[0]) if who else False
    if disabled:
        if st.button(t("admin.users.enable"), key="enable_user"):
            attempt(lambda: users.enable_user(user, who), t("admin.users.enabled_done", username=who))
    elif st.button(t("admin.users.disable"), key="disable_user", type="primary"):
        attempt(lambda: users.disable_user(user, who), t("admin.users.disabled_done", username=who))

with tab_password:
    st.caption(t("admin.users.lockout.caption", n=auth.MAX_FAILED_LOGINS, minutes=auth.LOCK_MINUTES))
    who = st.selectbox(t("admin.users.pick"), names, key="password_user")
    remaining = auth.lock_remaining(who) if who else None
    if remaining is not None:
        st.warning(t("admin.users.status_locked", username=who, minutes=int(remaining.total_seconds() // 60) + 1))
        if st.button(t("admin.users.unlock"), key="unlock_user"):
            attempt(lambda: users.unlock(user, who), t("admin.users.unlock_done", username=who))
    with st.form("reset_password", clear_on_submit=True):
        new_password = st.text_input(
            t("admin.users.new_password"),
            type="password",
            help=t("admin.users.password.help", n=users.MIN_PASSWORD_LENGTH),
        )
        if st.form_submit_button(t("admin.users.reset")):
            attempt(lambda: users.reset_password(user, who, new_password), t("admin.users.reset_done", username=who))
